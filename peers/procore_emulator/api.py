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


VENDOR_FIELDS = (
    "name",
    "legal_name",
    "abbreviated_name",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
    "business_phone",
    "fax_number",
    "email_address",
    "is_active",
    "origin_id",
    "origin_data",
    "origin_code",
)


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
        found = [
            v
            for v in self.s.vendors.values()
            if v["company_id"] == company_id and v["is_active"] == active
        ]
        if origin_id is not None:
            found = [v for v in found if v.get("origin_id") == origin_id]
        return sorted(found, key=lambda v: v["id"])

    def vendor_get(self, company_id: int, vendor_id: int) -> dict[str, Any]:
        v = self.s.vendors.get(vendor_id)
        if v is None or v["company_id"] != company_id:
            raise not_found("Vendor")
        return v

    def vendor_create(self, company_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        if not str(vendor.get("name") or "").strip():
            raise invalid("name", "can't be blank")
        self._check_vendor(company_id, vendor, None)
        vid = self.s.next_id()
        record = vendor_defaults(vid, company_id)
        record.update({k: vendor[k] for k in VENDOR_FIELDS if k in vendor})
        self.s.vendors[vid] = record
        return record

    def vendor_update(self, company_id: int, vendor_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        record = self.vendor_get(company_id, vendor_id)
        self._check_vendor(company_id, vendor, vendor_id)
        record.update({k: vendor[k] for k in VENDOR_FIELDS if k in vendor})
        return record

    def vendor_sync(self, company_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch upsert, matched by id then origin_id; per-item errors, overall 200."""
        if len(updates) > 1000:
            raise invalid("updates", "must contain at most 1000 items")
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in updates:
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
                    entities.append(self.vendor_create(company_id, item))
                else:
                    entities.append(self.vendor_update(company_id, target["id"], item))
            except ApiError as exc:
                errors.append({**{k: item.get(k) for k in ("id", "origin_id")}, **exc.body})
        return {"entities": entities, "errors": errors}

    def project_vendor_add(self, project_id: int, vendor_id: int, company_id: int) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        vendor = self.vendor_get(company_id, vendor_id)
        self.s.project_vendors.setdefault(project_id, set()).add(vendor_id)
        return vendor

    def project_vendor_list(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [self.s.vendors[v] for v in sorted(self.s.project_vendors.get(project_id, set()))]

    # --- catalog -----------------------------------------------------------------

    def project_get(self, company_id: int, project_id: int) -> dict[str, Any]:
        p = self.s.projects.get(project_id)
        if p is None or p["company_id"] != company_id:
            raise not_found("Project")
        return p

    def projects(self, company_id: int) -> list[dict[str, Any]]:
        return [p for p in self.s.projects.values() if p["company_id"] == company_id]

    def cost_codes(self, company_id: int, project_id: int) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        return [c for c in self.s.cost_codes.values() if c["project_id"] == project_id]

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

    # --- requisitions ------------------------------------------------------------

    def _requisition(self, company_id: int, project_id: int, rid: int) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        r = self.s.requisitions.get(rid)
        if r is None or r["project_id"] != project_id:
            raise not_found("Requisition")
        return r

    def requisition_list(self, company_id: int, project_id: int, origin_id: str | None) -> list[dict[str, Any]]:
        self.project_get(company_id, project_id)
        found = [r for r in self.s.requisitions.values() if r["project_id"] == project_id]
        if origin_id is not None:
            found = [r for r in found if r.get("origin_id") == origin_id]
        return [requisition_view(r, extended=False) for r in found]

    def requisition_create(self, company_id: int, body: dict[str, Any]) -> dict[str, Any]:
        project_id = int(body.get("project_id") or 0)
        self.project_get(company_id, project_id)
        c = self.s.commitments.get(int(body.get("commitment_id") or 0))
        if c is None or c["project_id"] != project_id:
            raise invalid("commitment_id", "is not a commitment of this project")
        req = body.get("requisition") or {}
        if not req.get("invoice_number"):
            raise invalid("invoice_number", "can't be blank")
        rid = self.s.next_id()
        number = 1 + sum(1 for r in self.s.requisitions.values() if r["commitment_id"] == c["id"])
        record = {
            "id": rid,
            "project_id": project_id,
            "commitment_id": c["id"],
            "number": number,
            "status": "draft",
            "invoice_number": req["invoice_number"],
            "billing_date": req.get("billing_date"),
            "period_start": req.get("period_start"),
            "period_end": req.get("period_end"),
            "origin_id": req.get("origin_id"),
            "origin_data": req.get("origin_data"),
            "vendor_id": c["vendor"]["id"],
            "items": [
                {
                    "id": self.s.next_id(),
                    "commitment_line_item_id": li["id"],
                    "cost_code_id": li["cost_code"]["id"],
                    "work_completed_this_period": Decimal("0.00"),
                }
                for li in c["line_items"]
            ],
        }
        self.s.requisitions[rid] = record
        return record

    def requisition_update(self, company_id: int, project_id: int, rid: int, req: dict[str, Any]) -> dict[str, Any]:
        r = self._requisition(company_id, project_id, rid)
        if "invoice_number" in req and not req["invoice_number"]:
            raise invalid("invoice_number", "can't be blank")
        for k in ("invoice_number", "billing_date", "period_start", "period_end", "origin_id", "origin_data"):
            if k in req:
                r[k] = req[k]
        return r

    def requisition_items(self, company_id: int, project_id: int, rid: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = self._requisition(company_id, project_id, rid)
        by_id = {i["id"]: i for i in r["items"]}
        staged: list[tuple[dict[str, Any], Decimal]] = []
        for item in items:
            target = by_id.get(int(item.get("id") or 0))
            if target is None:
                raise invalid("items", f"item {item.get('id')} is not on this requisition")
            staged.append((target, money(item.get("work_completed_this_period"), "work_completed_this_period")))
        for target, amount in staged:  # all or nothing
            target["work_completed_this_period"] = amount
        return [_item_view(i) for i in r["items"]]

    def requisition_delete(self, company_id: int, project_id: int, rid: int) -> None:
        self._requisition(company_id, project_id, rid)
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
        return [direct_cost_view(d) for d in found]

    def _apply_lines(self, project_id: int, record: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        wbs = {c["wbs_code_id"] for c in self.s.cost_codes.values() if c["project_id"] == project_id}
        current = {li["id"]: li for li in record["line_items"]}
        new_lines = list(record["line_items"])
        for line in lines:
            if int(line.get("wbs_code_id") or 0) not in wbs:
                raise invalid("line_items", "wbs_code_id is not a cost code of this project")
            values = {
                "wbs_code_id": int(line["wbs_code_id"]),
                "description": line.get("description", ""),
                "manual_amount": money(line.get("manual_amount"), "manual_amount"),
            }
            if line.get("id"):
                if int(line["id"]) not in current:
                    raise invalid("line_items", f"line item {line['id']} not found")
                current[int(line["id"])].update(values)
            else:
                # As in Procore: a line without an id is *added*, not replaced.
                new_lines.append({"id": self.s.next_id(), **values})
        if len(new_lines) > 100:
            raise invalid("line_items", "at most 100 line items")
        record["line_items"] = new_lines

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

    def direct_cost_create(self, company_id: int, project_id: int, dc: dict[str, Any]) -> dict[str, Any]:
        self.project_get(company_id, project_id)
        self._check_direct_cost(project_id, dc, partial=False)
        did = self.s.next_id()
        record: dict[str, Any] = {
            "id": did,
            "project_id": project_id,
            "direct_cost_type": dc["direct_cost_type"],
            "vendor_id": int(dc["vendor_id"]),
            "invoice_number": dc.get("invoice_number"),
            "direct_cost_date": dc.get("direct_cost_date"),
            "description": dc.get("description", ""),
            "status": dc.get("status", "pending"),
            "origin_id": dc.get("origin_id"),
            "origin_data": dc.get("origin_data"),
            "line_items": [],
        }
        self._apply_lines(project_id, record, dc.get("line_items") or [])
        self.s.direct_costs[did] = record
        return record

    def direct_cost_update(self, company_id: int, project_id: int, did: int, dc: dict[str, Any]) -> dict[str, Any]:
        record = self._direct_cost(company_id, project_id, did)
        self._check_direct_cost(project_id, dc, partial=True)
        staged = {**record, "line_items": [dict(li) for li in record["line_items"]]}
        for k in ("direct_cost_type", "invoice_number", "direct_cost_date", "description", "status", "origin_id", "origin_data"):
            if k in dc:
                staged[k] = dc[k]
        if "vendor_id" in dc:
            staged["vendor_id"] = int(dc["vendor_id"])
        self._apply_lines(project_id, staged, dc.get("line_items") or [])
        record.update(staged)
        return record

    def direct_cost_delete(self, company_id: int, project_id: int, did: int) -> None:
        self._direct_cost(company_id, project_id, did)
        del self.s.direct_costs[did]


def _item_view(i: dict[str, Any]) -> dict[str, Any]:
    return {**i, "work_completed_this_period": show_money(i["work_completed_this_period"])}


def requisition_view(r: dict[str, Any], *, extended: bool) -> dict[str, Any]:
    view = {k: v for k, v in r.items() if k != "items"}
    view["total_work_completed_this_period"] = show_money(
        sum((i["work_completed_this_period"] for i in r["items"]), Decimal("0"))
    )
    if extended:
        view["items"] = [_item_view(i) for i in r["items"]]
    return view


def direct_cost_view(d: dict[str, Any]) -> dict[str, Any]:
    lines = [{**li, "manual_amount": show_money(li["manual_amount"])} for li in d["line_items"]]
    total = sum((li["manual_amount"] for li in d["line_items"]), Decimal("0"))
    return {**d, "line_items": lines, "grand_total": show_money(total)}


def _commitment_view(c: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in c.items() if k != "line_items"}
