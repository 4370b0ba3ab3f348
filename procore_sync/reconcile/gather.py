"""Gather both sides of a reconciliation: stored QuickBooks bills, and Procore through the client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from audit.models import RecordKind, RecordState, SyncRecord
from audit.qbtypes import bill_from_json
from procore_sync.client import ProcoreClient
from procore_sync.models import JobProjectMapping
from procore_sync.payloads import bill_split, txn_of_origin
from procore_sync.reconcile.compare import ExpectedPart, FoundCost, Report, compare
from procore_sync.tokens import client_for
from tenants.models import Tenant


def _money(value: Any) -> Decimal:
    return Decimal(str(value or "0")).quantize(Decimal("0.01"))


def expected_parts(*, tenant: Tenant) -> tuple[list[ExpectedPart], dict[str, str]]:
    """Every bill still open in QuickBooks, split per project as the pusher splits it."""
    job_projects = dict(JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", "project_id"))
    parts: list[ExpectedPart] = []
    vendor_of: dict[str, str] = {}
    for record in SyncRecord.objects.filter(tenant=tenant, kind=RecordKind.BILL).iterator():
        if not record.payload:
            continue
        bill = bill_from_json(record.payload)
        vendor_of[bill.txn_id] = bill.vendor_name
        if record.deleted_in_qb:
            continue
        waiting = record.state_reason if record.state in (RecordState.WAITING, RecordState.FAILED) else ""
        for part in bill_split(bill, job_projects=job_projects, default_project_id=tenant.procore_project_id):
            parts.append(
                ExpectedPart(
                    txn_id=bill.txn_id,
                    ref=bill.ref_number or bill.txn_id,
                    vendor_list_id=bill.vendor_list_id,
                    vendor_name=bill.vendor_name,
                    project_id=part.project_id,
                    amount=part.amount,
                    waiting=waiting[:120],
                )
            )
    return parts, vendor_of


def found_costs(*, client: ProcoreClient, ours: set[str]) -> tuple[list[FoundCost], dict[int, str]]:
    """Every requisition and direct cost in the company's projects whose origin_id is one of our TxnIDs."""
    found: list[FoundCost] = []
    names: dict[int, str] = {}
    for project in client.projects():
        project_id = int(project["id"])
        names[project_id] = str(project.get("name", project_id))
        for req in client.requisitions(project_id):
            txn = txn_of_origin(str(req.get("origin_id") or ""))
            if txn in ours:
                amount = sum(
                    (_money(i.get("work_completed_this_period")) for i in req.get("items") or []), Decimal("0")
                )
                found.append(FoundCost(txn, "requisition", int(req["id"]), project_id, amount))
        for cost in client.direct_costs(project_id):
            txn = txn_of_origin(str(cost.get("origin_id") or ""))
            if txn in ours:
                # `grand_total`: the documented total of a direct cost (RestV11ProjectsProjectIdDirectCostsGet200ResponseInner.md).
                amount = _money(cost.get("grand_total"))
                found.append(FoundCost(txn, "direct_cost", int(cost["id"]), project_id, amount))
    return found, names


def tenant_reconcile(*, tenant: Tenant, client: ProcoreClient | None = None) -> tuple[Report, dict[int, str]]:
    """Compare the tenant's open QuickBooks bills with Procore. Raises ProcoreError if Procore cannot be read."""
    expected, vendor_of = expected_parts(tenant=tenant)
    client = client or client_for(tenant)
    found, names = found_costs(client=client, ours=set(vendor_of))
    return compare(expected, found, vendor_of=vendor_of), names
