"""The emulator's Procore endpoints: pure functions of (state, request) → (status, body, headers).

Shapes follow Procore's REST reference for the fields we use; validation
errors are 422 with an `errors` object (field → messages), as Procore answers.
The HTTP plumbing (auth, company header, rate limits, faults) is in server.py.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from peers.procore_emulator.state import EmulatorState, vendor_defaults


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, {"errors": {field: [message]}})


def not_found(what: str) -> ApiError:
    return ApiError(404, {"error": f"{what} not found"})


# Request fields Procore permits, per the request models of the SDK pages generated from its
# OpenAPI description (weigandconstruction/procore_python_sdk, docs/). Anything else in a body
# is ignored, as Rails strong parameters do, and recorded in state.unpermitted.
VENDOR_FIELDS = (  # CompanyVendorSyncBodyUpdatesInner.md / CompanyVendor.md (the ones we keep)
    "name",
    "abbreviated_name",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
    "business_phone",
    "mobile_phone",
    "fax_number",
    "email_address",
    "is_active",
    "origin_id",
    "origin_data",
    "origin_code",
    "trade_name",
    "website",
    "notes",
)
VENDOR_SYNC_FIELDS = ("id", *VENDOR_FIELDS)
REQUISITION_BODY = ("project_id", "commitment_id", "requisition", "attachments")  # Body19/20/21.md
REQUISITION_FIELDS = (  # RequisitionSubcontractorInvoice.md / …Invoice1.md
    "items", "period_id", "requisition_start", "requisition_end", "billing_date", "final", "invoice_number",
    "payment_date", "origin_data", "origin_id", "status", "submitted_at", "prostore_file_ids", "comment",
)  # fmt: skip
REQUISITION_ITEM_FIELDS = (  # RequisitionSubcontractorInvoiceItemsInner.md / …Invoice1ItemsInner.md
    "id", "line_item_id", "detail_line_item_id", "item_type", "work_completed_this_period",
    "materials_presently_stored", "work_completed_retainage_retained_this_period", "comment", "status",
    "subcontractor_claimed_amount",
)  # fmt: skip
DIRECT_COST_SYNC_FIELDS = (  # DirectCostItem3.md
    "id", "description", "direct_cost_date", "employee_id", "invoice_number", "origin_data", "origin_id",
    "payment_date", "received_date", "status", "terms", "vendor_id", "direct_cost_type",
)  # fmt: skip
# LineItem.md, plus `id` (sync actions match by id, then origin_id) and `direct_cost_id` (the
# direct-cost line item models DirectCostLineItem.md / LineItem2.md: which direct cost a line is on).
DIRECT_COST_LINE_SYNC_FIELDS = (
    "id", "direct_cost_id", "amount", "cost_code_id", "description", "extended_type", "quantity",
    "line_item_type_id", "origin_data", "origin_id", "tax_code_id", "unit_cost", "uom", "wbs_code_id",
)  # fmt: skip

# Response fields, per the answer models (RestV10VendorsGet200ResponseInner.md,
# RestV11RequisitionsGet200ResponseInner.md and …ItemsInner.md, RestV11ProjectsProjectIdDirectCostsGet200ResponseInner.md,
# RestV10ProjectsProjectIdDirectCostsDirectCostIdLineItemsGet200ResponseInner.md): an answer never carries
# a field Procore's does not, so the product cannot come to rely on one.
VENDOR_VIEW = (
    "id", "name", "abbreviated_name", "address", "city", "state_code", "zip", "country_code", "business_phone",
    "mobile_phone", "fax_number", "email_address", "is_active", "origin_id", "origin_data", "origin_code",
    "trade_name", "website", "notes", "legal_name",
)  # fmt: skip
REQUISITION_VIEW = (
    "id", "project_id", "commitment_id", "number", "status", "invoice_number", "billing_date", "period_id",
    "requisition_start", "requisition_end", "origin_id", "origin_data", "vendor_id", "vendor_name", "deletable",
    "final",
)  # fmt: skip
REQUISITION_ITEM_VIEW = (
    "id",
    "item_type",
    "cost_code_id",
    "line_item_id",
    "work_completed_this_period",
    "scheduled_value",
)
DIRECT_COST_VIEW = (
    "id", "description", "direct_cost_type", "direct_cost_date", "grand_total", "invoice_number", "origin_data",
    "origin_id", "status", "vendor_id", "vendor_name", "payment_date", "received_date", "terms",
)  # fmt: skip
DIRECT_COST_LINE_VIEW = (
    "id",
    "amount",
    "cost_code",
    "description",
    "line_item_type",
    "origin_id",
    "origin_data",
    "holder",
)
COST_CODE_VIEW = ("id", "code", "full_code", "name", "origin_id", "line_item_types")
# Invoice statuses a non-admin may still edit; "open" ones the latest of which may be deleted.
EDITABLE_STATUSES = ("draft", "revise_and_resubmit")
OPEN_STATUSES = ("draft", "under_review", "revise_and_resubmit", "pending_owner_approval")


def view(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in fields if k in record}


def money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(field, "is not a number") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise invalid(field, "must have at most 2 decimal places")
    return amount


def show_money(d: Decimal) -> str:
    return str(d.quantize(Decimal("0.01")))


class Api:
    def __init__(self, state: EmulatorState) -> None:
        self.s = state

    def permit(self, where: str, body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
        """Keep the permitted keys of a request object; record the others (Procore ignores them)."""
        if not isinstance(body, dict):
            return {}
        for key in body:
            if key not in allowed:
                self.s.unpermitted.append((where, str(key)))
        return {k: v for k, v in body.items() if k in allowed}

    # --- vendors -----------------------------------------------------------------

    def _check_vendor(self, company_id: int, vendor: dict[str, Any], own_id: int | None) -> None:
        if "name" in vendor and not str(vendor.get("name") or "").strip():
            raise invalid("name", "can't be blank")
        origin = vendor.get("origin_id")
        if origin:
            for v in self.s.vendors.values():
                if v["company_id"] == company_id and v.get("origin_id") == origin and v["id"] != own_id:
                    raise invalid("origin_id", "has already been taken")
        cc = vendor.get("country_code")
        if cc and (len(cc) != 2 or not cc.isupper()):
            raise invalid("country_code", "is not a valid ISO 3166 code")

    def vendor_list(self, company_id: int, origin_id: str | None, active: bool = True) -> list[dict[str, Any]]:
        found = [v for v in self.s.vendors.values() if v["company_id"] == company_id and v["is_active"] == active]
        if origin_id is not None:
            found = [v for v in found if v.get("origin_id") == origin_id]
        return [view(v, VENDOR_VIEW) for v in sorted(found, key=lambda v: v["id"])]

    def vendor_get(self, company_id: int, vendor_id: int) -> dict[str, Any]:
        v = self.s.vendors.get(vendor_id)
        if v is None or v["company_id"] != company_id:
            raise not_found("Vendor")
        return v

    def vendor_create(self, company_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        vendor = self.permit("vendor", vendor, VENDOR_FIELDS)
        if not str(vendor.get("name") or "").strip():
            raise invalid("name", "can't be blank")
        self._check_vendor(company_id, vendor, None)
        vid = self.s.next_id()
        record = vendor_defaults(vid, company_id)
        record.update(vendor)
        self.s.vendors[vid] = record
        return view(record, VENDOR_VIEW)

    def vendor_update(self, company_id: int, vendor_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        vendor = self.permit("vendor", vendor, VENDOR_FIELDS)
        record = self.vendor_get(company_id, vendor_id)
        self._check_vendor(company_id, vendor, vendor_id)
        record.update(vendor)
        return view(record, VENDOR_VIEW)

    def vendor_sync(self, company_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch upsert, matched by id then origin_id; per-item errors, overall 200."""
        if len(updates) > 1000:
            raise invalid("updates", "must contain at most 1000 items")
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for raw in updates:
            item = self.permit("vendors/sync updates[]", raw, VENDOR_SYNC_FIELDS)
            fields = {k: v for k, v in item.items() if k != "id"}
            try:
                target = None
                if item.get("id"):
                    target = self.vendor_get(company_id, int(item["id"]))
                elif item.get("origin_id"):
                    same = [
                        v
                        for v in self.s.vendors.values()
                        if v["company_id"] == company_id and v.get("origin_id") == item["origin_id"]
                    ]
                    target = same[0] if same else None
                if target is None:
                    entities.append(self.vendor_create(company_id, fields))
                else:
                    entities.append(self.vendor_update(company_id, target["id"], fields))
            except ApiError as exc:
                errors.append({**{k: item.get(k) for k in ("id", "origin_id")}, **exc.body})
        return {"entities": entities, "errors": errors}

    def project_vendor_add(self, project_id: int, vendor_id: int, company_id: int) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        vendor = self.vendor_get(company_id, vendor_id)
        self.s.project_vendors.setdefault(project_id, set()).add(vendor_id)
        return view(vendor, VENDOR_VIEW)

    def project_vendor_list(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [view(self.s.vendors[v], VENDOR_VIEW) for v in sorted(self.s.project_vendors.get(project_id, set()))]

    # --- catalog -----------------------------------------------------------------

    def project_get(self, company_id: int, project_id: int) -> dict[str, Any]:
        p = self.s.projects.get(project_id)
        if p is None or p["company_id"] != company_id:
            raise not_found("Project")
        return p

    def projects(self, company_id: int) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in p.items() if k != "company_id"}
            for p in self.s.projects.values()
            if p["company_id"] == company_id
        ]

    def cost_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [view(c, COST_CODE_VIEW) for c in self.s.cost_codes.values() if c["project_id"] == project_id]

    def commitments(self, company_id: int, project_id: int, kind: str) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [
            _commitment_view(c)
            for c in self.s.commitments.values()
            if c["project_id"] == project_id and c["kind"] == kind
        ]

    def commitment_lines(self, company_id: int, project_id: int, kind: str, cid: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        c = self.s.commitments.get(cid)
        if c is None or c["project_id"] != project_id or c["kind"] != kind:
            raise not_found("Commitment")
        return [{**li, "amount": show_money(li["amount"])} for li in c["line_items"]]

    # --- requisitions (subcontractor invoices) -------------------------------------

    def _requisition(self, company_id: int, project_id: int, rid: int) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        r = self.s.requisitions.get(rid)
        if r is None or r["project_id"] != project_id:
            raise not_found("Requisition")
        return r

    def _latest_of(self, commitment_id: int) -> dict[str, Any] | None:
        mine = [r for r in self.s.requisitions.values() if r["commitment_id"] == commitment_id]
        return max(mine, key=lambda r: r["number"]) if mine else None

    def _deletable(self, r: dict[str, Any]) -> bool:
        latest = self._latest_of(r["commitment_id"])
        return latest is not None and latest["id"] == r["id"] and r["status"] in OPEN_STATUSES

    def requisition_view(self, r: dict[str, Any], *, extended: bool) -> dict[str, Any]:
        out = view({**r, "deletable": self._deletable(r)}, REQUISITION_VIEW)
        if extended:
            out["items"] = [_item_view(i) for i in r["items"]]
        return out

    def requisition_list(
        self, company_id: int, project_id: int, origin_id: str | None, *, extended: bool = False
    ) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        found = [r for r in self.s.requisitions.values() if r["project_id"] == project_id]
        if origin_id is not None:
            found = [r for r in found if r.get("origin_id") == origin_id]
        return [self.requisition_view(r, extended=extended) for r in found]

    def _apply_items(self, r: dict[str, Any], items: Any, *, by: str) -> None:
        """Set amounts on the invoice's items, all or nothing; `by` = "line_item_id" (create) or "id" (update)."""
        staged: list[tuple[dict[str, Any], Decimal]] = []
        for n, raw in enumerate(items or []):
            item = self.permit("requisition.items[]", raw, REQUISITION_ITEM_FIELDS)
            if not item.get("item_type"):
                raise invalid(f"items[{n}].item_type", "can't be blank")
            key = item.get(by)
            target = next((i for i in r["items"] if i[by] == int(key or 0)), None)
            if target is None:
                raise invalid(f"items[{n}].{by}", f"{key} is not an item of this invoice")
            if "work_completed_this_period" in item:
                staged.append((target, money(item["work_completed_this_period"], "work_completed_this_period")))
        for target, amount in staged:
            target["work_completed_this_period"] = amount

    def requisition_create(self, company_id: int, body: dict[str, Any], client_id: str = "") -> dict[str, Any]:
        body = self.permit("requisitions", body, REQUISITION_BODY)
        project_id = int(body.get("project_id") or 0)
        self.project_get(company_id, project_id)
        c = self.s.commitments.get(int(body.get("commitment_id") or 0))
        if c is None or c["project_id"] != project_id:
            raise invalid("commitment_id", "is not a commitment of this project")
        req = self.permit("requisition", body.get("requisition"), REQUISITION_FIELDS)
        if not req.get("invoice_number"):
            raise invalid("invoice_number", "can't be blank")
        self._origin_free(company_id, self.s.requisitions, req.get("origin_id"), None)
        rid = self.s.next_id()
        previous = self._latest_of(c["id"])
        period = self.s.billing_period_for(project_id, req.get("billing_date"))
        record = {
            "id": rid,
            "project_id": project_id,
            "commitment_id": c["id"],
            "number": 1 + (previous["number"] if previous else 0),
            "status": "draft",
            "invoice_number": req["invoice_number"],
            "billing_date": req.get("billing_date"),
            # Without a period_id an invoice falls in the billing period containing its date.
            "period_id": req.get("period_id") or period["id"],
            "origin_id": req.get("origin_id"),
            "origin_data": req.get("origin_data"),
            "vendor_id": c["vendor"]["id"],
            "vendor_name": c["vendor"]["name"],
            "items": [
                {
                    "id": self.s.next_id(),
                    "item_type": "contract_item",
                    "line_item_id": li["id"],
                    "cost_code_id": li["cost_code"]["id"],
                    "scheduled_value": li["amount"],
                    "work_completed_this_period": Decimal("0.00"),
                }
                for li in c["line_items"]
            ],
        }
        self._apply_items(record, req.get("items"), by="line_item_id")
        self.s.requisitions[rid] = record
        return record

    def _origin_free(
        self, company_id: int, records: dict[int, dict[str, Any]], origin: Any, own_id: int | None
    ) -> None:
        """Origin IDs are unique within a company, across its projects, per object type (Using Sync Actions)."""
        if not origin:
            return
        for r in records.values():
            project = self.s.projects.get(r["project_id"]) or {}
            if project.get("company_id") == company_id and r.get("origin_id") == origin and r["id"] != own_id:
                raise invalid("origin_id", "has already been taken")

    def _check_editable(self, r: dict[str, Any], client_id: str) -> None:
        """Non-admins may update only the latest invoice of a commitment while draft or revise-and-resubmit."""
        if client_id in self.s.admin_clients:
            return
        latest = self._latest_of(r["commitment_id"])
        if latest is None or latest["id"] != r["id"]:
            raise ApiError(403, {"errors": {"base": ["Only the most recent invoice of a commitment can be updated"]}})
        if r["status"] not in EDITABLE_STATUSES:
            raise ApiError(403, {"errors": {"base": [f"An invoice with status {r['status']} can not be updated"]}})

    def requisition_update(
        self, company_id: int, project_id: int, rid: int, body: dict[str, Any], client_id: str = ""
    ) -> dict[str, Any]:
        body = self.permit("requisitions/{id}", body, REQUISITION_BODY)
        r = self._requisition(company_id, project_id, rid)
        req = self.permit("requisition", body.get("requisition"), REQUISITION_FIELDS)
        self._check_editable(r, client_id)
        if "invoice_number" in req and not req["invoice_number"]:
            raise invalid("invoice_number", "can't be blank")
        staged = {**r, "items": [dict(i) for i in r["items"]]}
        self._apply_items(staged, req.get("items"), by="id")
        if "origin_id" in req:
            self._origin_free(company_id, self.s.requisitions, req["origin_id"], rid)
        for k in ("invoice_number", "billing_date", "origin_id", "origin_data", "period_id"):
            if k in req:
                staged[k] = req[k]
        if "billing_date" in req and "period_id" not in req:
            staged["period_id"] = self.s.billing_period_for(project_id, req["billing_date"])["id"]
        r.update(staged)
        return r

    def requisition_delete(self, company_id: int, project_id: int, rid: int, client_id: str = "") -> None:
        r = self._requisition(company_id, project_id, rid)
        if not self._deletable(r) and client_id not in self.s.admin_clients:
            raise ApiError(403, {"errors": {"base": ["Only the latest open invoice of a commitment can be deleted"]}})
        del self.s.requisitions[rid]

    # --- direct costs ------------------------------------------------------------

    def _direct_cost(self, company_id: int, project_id: int, did: int) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        d = self.s.direct_costs.get(did)
        if d is None or d["project_id"] != project_id:
            raise not_found("Direct Cost")
        return d

    def direct_cost_list(self, company_id: int, project_id: int, origin_id: str | None) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        found = [d for d in self.s.direct_costs.values() if d["project_id"] == project_id]
        if origin_id is not None:
            found = [d for d in found if d.get("origin_id") == origin_id]
        return [self.direct_cost_view(d) for d in found]

    def direct_cost_view(self, d: dict[str, Any]) -> dict[str, Any]:
        total = sum((li["amount"] for li in d["line_items"]), Decimal("0"))
        vendor = self.s.vendors.get(d["vendor_id"]) or {}
        return view({**d, "grand_total": show_money(total), "vendor_name": vendor.get("name")}, DIRECT_COST_VIEW)

    def _check_direct_cost(self, project_id: int, dc: dict[str, Any], partial: bool) -> None:
        kind = dc.get("direct_cost_type")
        if (not partial or "direct_cost_type" in dc) and kind not in ("invoice", "expense", "payroll"):
            raise invalid("direct_cost_type", "is not included in the list")
        if kind == "invoice" and not dc.get("invoice_number"):
            raise invalid("invoice_number", "can't be blank")
        if (not partial or "vendor_id" in dc) and int(dc.get("vendor_id") or 0) not in self.s.project_vendors.get(
            project_id, set()
        ):
            raise invalid("vendor_id", "must be in the project directory")

    def direct_costs_sync(self, company_id: int, project_id: int, updates: Any) -> dict[str, Any]:
        """PATCH …/direct_costs/sync: matched by id, else origin_id (created when not found); 200 with errors."""
        self.project_get(company_id, project_id)
        if not isinstance(updates, list) or len(updates) > 1000:
            raise invalid("updates", "must be a list of at most 1000 items")
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for raw in updates:
            item = self.permit("direct_costs/sync updates[]", raw, DIRECT_COST_SYNC_FIELDS)
            try:
                target = None
                if item.get("id"):
                    target = self._direct_cost(company_id, project_id, int(item["id"]))
                elif item.get("origin_id"):
                    target = next(
                        (d for d in self.s.direct_costs.values()
                         if d["project_id"] == project_id and d.get("origin_id") == item["origin_id"]),
                        None,
                    )  # fmt: skip
                self._origin_free(
                    company_id, self.s.direct_costs, item.get("origin_id"), target["id"] if target else None
                )
                if target is None:
                    self._check_direct_cost(project_id, item, partial=False)
                    did = self.s.next_id()
                    target = {"id": did, "project_id": project_id, "line_items": [], "status": "pending",
                              "direct_cost_type": item["direct_cost_type"]}  # fmt: skip
                    self.s.direct_costs[did] = target
                else:
                    # "Can only be set when creating a direct cost item" (DirectCostItem3.md).
                    item.pop("direct_cost_type", None)
                    self._check_direct_cost(project_id, {**target, **item}, partial=True)
                for k, v in item.items():
                    if k != "id":
                        target[k] = int(v) if k == "vendor_id" else v
                entities.append(self.direct_cost_view(target))
            except ApiError as exc:
                errors.append({**{k: item.get(k) for k in ("id", "origin_id")}, **exc.body})
        return {"entities": entities, "errors": errors}

    def direct_cost_lines_sync(self, company_id: int, project_id: int, updates: Any) -> dict[str, Any]:
        """PATCH …/direct_costs/line_items/sync: a line needs `wbs_code_id`, or `cost_code_id` + `line_item_type_id`."""
        self.project_get(company_id, project_id)
        if not isinstance(updates, list) or len(updates) > 1000:
            raise invalid("updates", "must be a list of at most 1000 items")
        codes = {c["id"]: c for c in self.s.cost_codes.values() if c["project_id"] == project_id}
        lines = {li["id"]: (d, li) for d in self.s.direct_costs.values() if d["project_id"] == project_id
                 for li in d["line_items"]}  # fmt: skip
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for raw in updates:
            item = self.permit("direct_costs/line_items/sync updates[]", raw, DIRECT_COST_LINE_SYNC_FIELDS)
            try:
                found = None
                if item.get("id"):
                    found = lines.get(int(item["id"]))
                    if found is None:
                        raise not_found("Line Item")
                elif item.get("origin_id"):
                    found = next((x for x in lines.values() if x[1].get("origin_id") == item["origin_id"]), None)
                if found is None:
                    holder = self.s.direct_costs.get(int(item.get("direct_cost_id") or 0))
                    if holder is None or holder["project_id"] != project_id:
                        raise invalid("direct_cost_id", "is not a direct cost of this project")
                    if len(holder["line_items"]) >= 100:
                        raise invalid("line_items", "at most 100 line items")
                    line: dict[str, Any] = {"id": self.s.next_id(), "amount": Decimal("0.00"), "description": ""}
                else:
                    holder, line = found
                    line = dict(line)
                if item.get("wbs_code_id"):
                    raise invalid("wbs_code_id", "is not a WBS code of this project")
                code_id = int(item.get("cost_code_id") or line.get("cost_code_id") or 0)
                type_id = int(item.get("line_item_type_id") or line.get("line_item_type_id") or 0)
                code = codes.get(code_id)
                if code is None:
                    raise invalid("cost_code_id", "is not a cost code of this project")
                if type_id not in {t["id"] for t in code.get("line_item_types") or []}:
                    raise invalid("line_item_type_id", "is not a cost type of this cost code")
                line.update({"cost_code_id": code_id, "line_item_type_id": type_id})
                if "amount" in item:
                    line["amount"] = money(item["amount"], "amount")
                for k in ("description", "origin_id", "origin_data"):
                    if k in item:
                        line[k] = item[k]
                if found is None:
                    holder["line_items"].append(line)
                else:
                    holder["line_items"] = [line if li["id"] == line["id"] else li for li in holder["line_items"]]
                lines[line["id"]] = (holder, line)
                entities.append(self.direct_cost_line_view(holder, line))
            except ApiError as exc:
                errors.append({**{k: item.get(k) for k in ("id", "origin_id")}, **exc.body})
        return {"entities": entities, "errors": errors}

    def direct_cost_line_view(self, holder: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
        code = self.s.cost_codes.get(line.get("cost_code_id") or 0) or {}
        types = {t["id"]: t for t in code.get("line_item_types") or []}
        return view(
            {
                **line,
                "amount": show_money(line["amount"]),
                "cost_code": view(code, ("id", "code", "full_code", "name")),
                "line_item_type": types.get(line.get("line_item_type_id")),
                "holder": {"id": holder["id"], "holder_type": "DirectCost"},
            },
            DIRECT_COST_LINE_VIEW,
        )

    def direct_cost_lines_list(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [
            self.direct_cost_line_view(d, li)
            for d in self.s.direct_costs.values()
            if d["project_id"] == project_id
            for li in d["line_items"]
        ]

    def direct_cost_delete(self, company_id: int, project_id: int, did: int) -> None:
        self._direct_cost(company_id, project_id, did)
        del self.s.direct_costs[did]


def _item_view(i: dict[str, Any]) -> dict[str, Any]:
    out = view(i, REQUISITION_ITEM_VIEW)
    out["work_completed_this_period"] = show_money(i["work_completed_this_period"])
    if "scheduled_value" in out:
        out["scheduled_value"] = show_money(i["scheduled_value"])
    return out


def _commitment_view(c: dict[str, Any]) -> dict[str, Any]:
    # The commitment's vendor is {id, company} (RestV10WorkOrderContractsGet200ResponseInnerVendor.md).
    view = {k: v for k, v in c.items() if k not in ("line_items", "vendor")}
    view["vendor"] = {"id": c["vendor"]["id"], "company": c["vendor"]["name"]}
    return view
