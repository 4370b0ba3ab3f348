"""Procore endpoint functions, one per documented endpoint, on top of the transport.

Every method names its reference page; docs/procore-contract.md lists the fields each sends
and reads, with the SDK model pages they come from.
"""

from __future__ import annotations

from typing import Any

from procore_sync.transport import Transport


class ProcoreClient(Transport):
    """One tenant's view of one Procore environment."""

    # --- identity ----------------------------------------------------------------

    # Reference: https://developers.procore.com/reference/rest/companies
    def companies(self) -> list[dict[str, Any]]:
        # The one list that is not per company: no Procore-Company-Id header (procore.md).
        return list(self.paginate("/rest/v1.0/companies", company_header=False))

    # --- vendors -----------------------------------------------------------------

    def _company(self) -> dict[str, Any]:
        return {"company_id": self.credentials.company_id}

    # Reference: https://developers.procore.com/reference/rest/company-vendors
    def vendors_by_origin(self, origin_id: str) -> list[dict[str, Any]]:
        params = {**self._company(), "filters[origin_id]": origin_id}
        return list(self.paginate("/rest/v1.0/vendors", params=params))

    def vendor_update(self, vendor_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        body = {**self._company(), "vendor": vendor}
        return self.request("PATCH", f"/rest/v1.0/vendors/{vendor_id}", json=body).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/company-vendors (Sync Vendors)
    def vendors_sync(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch create/update (≤ 1 000, matched by id then origin_id). Answers 200 even with errors."""
        body = {**self._company(), "updates": updates}
        return self.request("PATCH", "/rest/v1.0/vendors/sync", json=body).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/project-vendors (List project vendors)
    def project_vendors(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.0/projects/{project_id}/vendors"))

    # Reference: https://developers.procore.com/reference/rest/project-vendors
    def project_vendor_add(self, project_id: int, vendor_id: int) -> None:
        self.request("POST", f"/rest/v1.0/projects/{project_id}/vendors/{vendor_id}/actions/add", idempotent=True)

    # --- catalog -----------------------------------------------------------------

    # Reference: https://developers.procore.com/reference/rest/projects
    def projects(self) -> list[dict[str, Any]]:
        return list(self.paginate("/rest/v1.0/projects", params=self._company()))

    # Reference: https://developers.procore.com/reference/rest/cost-codes
    def cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate("/rest/v1.0/cost_codes", params={"project_id": project_id}))

    # Reference: https://developers.procore.com/reference/rest/work-order-contracts
    def commitments(self, project_id: int) -> list[dict[str, Any]]:
        """Subcontracts and purchase orders of a project, each tagged with its `kind`."""
        found: list[dict[str, Any]] = []
        for kind in ("work_order_contracts", "purchase_order_contracts"):
            for item in self.paginate(f"/rest/v1.0/{kind}", params={"project_id": project_id}):
                found.append({**item, "kind": kind})
        return found

    def commitment_line_items(self, kind: str, commitment_id: int, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.0/{kind}/{commitment_id}/line_items", params={"project_id": project_id}))

    # --- requisitions (subcontractor invoices) -----------------------------------
    # Models: docs/Body19.md (create), Body20.md (update), RequisitionSubcontractorInvoice*.md,
    # RestV11RequisitionsGet200ResponseInner.md (answer; `items` only with view=extended).

    # Reference: https://developers.procore.com/reference/rest/requisitions (List, filters[origin_id])
    def requisitions_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        params = {"project_id": project_id, "filters[origin_id]": origin_id}
        return list(self.paginate("/rest/v1.0/requisitions", params=params))

    # Reference: https://developers.procore.com/reference/rest/requisitions (List, v1.1)
    def requisitions(self, project_id: int) -> list[dict[str, Any]]:
        """Every invoice of the project with its items (`view=extended`): one paginated read."""
        params = {"project_id": project_id, "view": "extended"}
        return list(self.paginate("/rest/v1.1/requisitions", params=params))

    # Reference: https://developers.procore.com/reference/rest/requisitions (Create, v1.1)
    def requisition_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """One call: header and items (`requisition.items[]` by `line_item_id`); answers with items."""
        return self.request(  # type: ignore[no-any-return]
            "POST", "/rest/v1.1/requisitions", params={"view": "extended"}, json=body
        ).data

    # Reference: https://developers.procore.com/reference/rest/requisitions (Show, v1.1)
    def requisition_show(self, project_id: int, requisition_id: int) -> dict[str, Any]:
        params = {"project_id": project_id, "view": "extended"}
        return self.request("GET", f"/rest/v1.1/requisitions/{requisition_id}", params=params).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/requisitions (Update, v1.1)
    def requisition_update(self, requisition_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """One call: header and items (`requisition.items[]` by requisition item `id`); answers with items."""
        return self.request(  # type: ignore[no-any-return]
            "PATCH", f"/rest/v1.1/requisitions/{requisition_id}", params={"view": "extended"}, json=body
        ).data

    # Reference: https://developers.procore.com/reference/rest/requisitions (Delete)
    def requisition_delete(self, project_id: int, requisition_id: int) -> None:
        self.request("DELETE", f"/rest/v1.0/requisitions/{requisition_id}", params={"project_id": project_id})

    # --- direct costs ------------------------------------------------------------
    # Models: docs/Body96.md + DirectCostItem3.md (sync), DirectCostLineItemSyncBody.md + LineItem.md
    # (line item sync), ArrayOfDirectCostItems.md / ArrayOfDirectCostLineItems.md (answers).

    # Reference: https://developers.procore.com/reference/rest/direct-costs (List, v1.1)
    def direct_costs_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs"
        return list(self.paginate(path, params={"filters[origin_id]": origin_id}))

    def direct_costs(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.1/projects/{project_id}/direct_costs"))

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Sync Direct Cost Items)
    def direct_costs_sync(self, project_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """≤ 1 000 items matched by id, else origin_id. 200 even when items fail: `entities` + `errors`."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/sync"
        return self.request("PATCH", path, json={"updates": updates}).data or {}  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Sync Direct Cost Line Items)
    def direct_cost_lines_sync(self, project_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """As direct_costs_sync, for line items (`cost_code_id` + `line_item_type_id`, `amount`)."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/line_items/sync"
        return self.request("PATCH", path, json={"updates": updates}).data or {}  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Delete, v1.1)
    def direct_cost_delete(self, project_id: int, direct_cost_id: int) -> None:
        self.request("DELETE", f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}")
