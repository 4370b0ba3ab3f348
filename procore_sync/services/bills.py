"""Bill upsert and delete: a QuickBooks bill becomes one requisition (or direct cost) per project.

Order of lookups before any create: the id map, then Procore by origin_id
(= TxnID, scoped to the project), so a retry after a lost answer updates what
the lost call created. A payload hash per project part skips unchanged writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from audit.models import EventCode, JobReason, PushJob, PushOp, RecordState
from audit.qbtypes import QbBill, bill_from_json
from procore_sync.client import ProcoreClient
from procore_sync.errors import NotFound, TransientError
from procore_sync.mapping import (
    BillPart,
    bill_split,
    direct_cost_payload,
    payload_hash,
    requisition_items,
    requisition_payload,
)
from procore_sync.models import CachedCostCode, CostCodeMapping, ExternalId, JobProjectMapping, ProcoreKind
from procore_sync.services.catalog import commitment_lines_find, cost_code_find
from procore_sync.services.ids import external_get, external_save
from procore_sync.services.outcomes import Done, Waiting
from tenants.models import BillTarget

BILL_KINDS = (ProcoreKind.REQUISITION, ProcoreKind.DIRECT_COST)


@dataclass
class Plan:
    """Where one project's share of a bill goes, and what we would send."""

    kind: str
    part: BillPart
    cost_code: CachedCostCode
    commitment_id: int = 0
    line_item_id: int = 0
    digest: str = ""


def _create_or_recover(create: Callable[[], dict[str, Any]], find: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """Create; if the answer was lost after Procore may have committed, find it by origin_id."""
    try:
        return create()
    except TransientError as exc:
        if not exc.maybe_committed:
            raise
        found = find()
        if found:
            return found[0]
        raise


def _project_vendor_ensure(*, client: ProcoreClient, job: PushJob, list_id: str, vendor_id: int, project_id: int) -> None:
    """Add the vendor to the project's directory once (remembered in the id map)."""
    if external_get(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, project_id=project_id):
        return
    client.project_vendor_add(project_id, vendor_id)
    external_save(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, procore_id=vendor_id, project_id=project_id)


def _plan(*, client: ProcoreClient, job: PushJob, bill: QbBill, part: BillPart, vendor_id: int) -> Plan:
    tenant = job.tenant
    mapping = (
        CostCodeMapping.objects.filter(
            tenant=tenant, vendor_list_id=bill.vendor_list_id, project_id__in=[part.project_id, 0]
        )
        .order_by("-project_id")
        .first()
    )
    if mapping is None:
        raise Waiting(
            JobReason.NEEDS_MAPPING,
            f"No cost code mapped for vendor {bill.vendor_name!r} (project {part.project_id}): "
            "add a cost-code mapping and the bill goes out by itself",
        )
    code = cost_code_find(client=client, tenant=tenant, project_id=part.project_id, code=mapping.cost_code)
    if code is None:
        raise Waiting(
            JobReason.NEEDS_MAPPING,
            f"Cost code {mapping.cost_code} (mapped for {bill.vendor_name!r}) does not exist in project {part.project_id}",
        )
    if tenant.bill_target != BillTarget.DIRECT_COST_ONLY:
        lines = commitment_lines_find(client=client, tenant=tenant, project_id=part.project_id, vendor_id=vendor_id)
        line = next((li for li in lines if li.cost_code_id == code.procore_id), None)
        if line is not None:
            plan = Plan(ProcoreKind.REQUISITION, part, code, line.commitment_id, line.line_item_id)
            plan.digest = payload_hash(
                [plan.kind, plan.commitment_id, plan.line_item_id, str(part.amount), requisition_payload(bill)]
            )
            return plan
        if tenant.bill_target == BillTarget.REQUISITION_ONLY:
            raise Waiting(
                JobReason.NEEDS_MAPPING,
                f"Vendor {bill.vendor_name!r} has no commitment line with cost code {code.code} in project "
                f"{part.project_id}, and this tenant only sends subcontractor invoices",
            )
    if code.wbs_code_id is None:
        raise Waiting(JobReason.NEEDS_MAPPING, f"Cost code {code.code} has no WBS code in project {part.project_id}")
    plan = Plan(ProcoreKind.DIRECT_COST, part, code)
    plan.digest = payload_hash(
        [plan.kind, direct_cost_payload(bill, part, vendor_id=vendor_id, wbs_code_id=code.wbs_code_id)]
    )
    return plan


def _requisition_write(*, client: ProcoreClient, job: PushJob, bill: QbBill, plan: Plan, ext: ExternalId | None) -> int:
    pid = plan.part.project_id
    header = requisition_payload(bill)
    req: dict[str, Any] | None = None
    if ext is not None:
        try:
            client.requisition_update(pid, ext.procore_id, header)
            req = client.requisition_show(pid, ext.procore_id)
        except NotFound:
            ext.delete()  # removed in Procore: create it again below
            ext = None
    if req is None:
        found = client.requisitions_by_origin(pid, bill.txn_id)
        if found:
            client.requisition_update(pid, int(found[0]["id"]), header)
            req = client.requisition_show(pid, int(found[0]["id"]))
        else:
            req = _create_or_recover(
                lambda: client.requisition_create(pid, plan.commitment_id, header),
                lambda: client.requisitions_by_origin(pid, bill.txn_id),
            )
            external_save(job=job, qb_id=bill.txn_id, kind=plan.kind, procore_id=int(req["id"]), project_id=pid)
            if "items" not in req:
                req = client.requisition_show(pid, int(req["id"]))
    rid = int(req["id"])
    items = req.get("items") or []
    target = next((i for i in items if int(i.get("commitment_line_item_id") or 0) == plan.line_item_id), None)
    if target is None:
        raise TransientError(f"requisition {rid} has no item for commitment line {plan.line_item_id} yet")
    others = [int(i["id"]) for i in items if _nonzero(i.get("work_completed_this_period"))]
    client.requisition_items_update(pid, rid, requisition_items(int(target["id"]), others, plan.part.amount))
    return rid


def _nonzero(value: Any) -> bool:
    """Procore answers amounts as decimal strings; never through float."""
    try:
        return Decimal(str(value or "0")) != 0
    except InvalidOperation:
        return False


def _direct_cost_write(*, client: ProcoreClient, job: PushJob, bill: QbBill, plan: Plan, vendor_id: int, ext: ExternalId | None) -> int:
    pid = plan.part.project_id
    assert plan.cost_code.wbs_code_id is not None
    _project_vendor_ensure(client=client, job=job, list_id=bill.vendor_list_id, vendor_id=vendor_id, project_id=pid)
    current: dict[str, Any] | None = None
    if ext is not None:
        try:
            current = client.direct_cost_show(pid, ext.procore_id)
        except NotFound:
            ext.delete()
    if current is None:
        found = client.direct_costs_by_origin(pid, bill.txn_id)
        current = found[0] if found else None
    if current is None:
        body = direct_cost_payload(bill, plan.part, vendor_id=vendor_id, wbs_code_id=plan.cost_code.wbs_code_id)
        created = _create_or_recover(
            lambda: client.direct_cost_create(pid, body),
            lambda: client.direct_costs_by_origin(pid, bill.txn_id),
        )
        return int(created["id"])
    # Send the existing line's id, or Procore adds a second line instead of changing the first.
    lines = current.get("line_items") or []
    line_id = int(lines[0]["id"]) if lines else None
    body = direct_cost_payload(
        bill, plan.part, vendor_id=vendor_id, wbs_code_id=plan.cost_code.wbs_code_id, line_id=line_id
    )
    # Extra lines (from an earlier split or manual edits) are zeroed so the total matches QuickBooks.
    body["line_items"] += [
        {"id": int(li["id"]), "wbs_code_id": li["wbs_code_id"], "description": li.get("description", ""), "manual_amount": "0.00"}
        for li in lines[1:]
        if _nonzero(li.get("manual_amount"))
    ]
    client.direct_cost_update(pid, int(current["id"]), body)
    return int(current["id"])


def _remote_delete(*, client: ProcoreClient, kind: str, project_id: int, procore_id: int) -> None:
    try:
        if kind == ProcoreKind.REQUISITION:
            client.requisition_delete(project_id, procore_id)
        else:
            client.direct_cost_delete(project_id, procore_id)
    except NotFound:
        pass  # already gone: that is the goal


def bill_upsert(*, client: ProcoreClient, job: PushJob) -> Done:
    """Create or update the bill's Procore documents; waits for vendor or mapping when needed."""
    tenant = job.tenant
    bill = bill_from_json(job.record.payload)
    vendor_ext = external_get(job=job, qb_id=bill.vendor_list_id, kind=ProcoreKind.VENDOR)
    if vendor_ext is None:
        raise Waiting(JobReason.NEEDS_VENDOR, f"Waiting for vendor {bill.vendor_name!r} to reach Procore")
    vendor_id = vendor_ext.procore_id
    job_projects = dict(
        JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", "project_id")
    )
    parts = bill_split(bill, job_projects=job_projects, default_project_id=tenant.procore_project_id)
    # Plan every part first: a bill either waits as a whole or goes out as a whole.
    plans = [_plan(client=client, job=job, bill=bill, part=p, vendor_id=vendor_id) for p in parts]
    written: list[dict[str, Any]] = []
    changed = 0
    for plan in plans:
        pid = plan.part.project_id
        ext = external_get(job=job, qb_id=bill.txn_id, kind=plan.kind, project_id=pid)
        if ext is not None and ext.payload_hash == plan.digest:
            written.append({"project_id": pid, "kind": plan.kind, "id": ext.procore_id, "amount": str(plan.part.amount)})
            continue
        if plan.kind == ProcoreKind.REQUISITION:
            procore_id = _requisition_write(client=client, job=job, bill=bill, plan=plan, ext=ext)
        else:
            procore_id = _direct_cost_write(client=client, job=job, bill=bill, plan=plan, vendor_id=vendor_id, ext=ext)
        external_save(job=job, qb_id=bill.txn_id, kind=plan.kind, procore_id=procore_id, digest=plan.digest, project_id=pid)
        changed += 1
        written.append({"project_id": pid, "kind": plan.kind, "id": procore_id, "amount": str(plan.part.amount), "cost_code": plan.cost_code.code})
    # A part that moved (other project, or requisition ↔ direct cost) leaves its old document behind.
    keep = {(p.kind, p.part.project_id) for p in plans}
    for ext in ExternalId.objects.filter(
        tenant=tenant, environment=tenant.procore_environment, qb_id=bill.txn_id, procore_kind__in=BILL_KINDS
    ):
        if (ext.procore_kind, ext.project_id) not in keep:
            _remote_delete(client=client, kind=ext.procore_kind, project_id=ext.project_id, procore_id=ext.procore_id)
            ext.delete()
            changed += 1
    if not changed:
        return Done(RecordState.SYNCED, EventCode.PUSH_SKIPPED, "Unchanged since the last push", written[0]["id"], {"parts": written})
    kinds = ", ".join(f"{w['kind']} in project {w['project_id']}" for w in written)
    return Done(RecordState.SYNCED, EventCode.PUSH_SUCCEEDED, f"In Procore as {kinds}", written[0]["id"], {"parts": written})


def bill_delete(*, client: ProcoreClient, job: PushJob) -> Done:
    """Delete the bill's Procore documents (404 = already done); drop it if it never left."""
    tenant = job.tenant
    record = job.record
    exts = list(
        ExternalId.objects.filter(
            tenant=tenant, environment=tenant.procore_environment, qb_id=record.qb_id, procore_kind__in=BILL_KINDS
        )
    )
    targets = [(e.procore_kind, e.project_id, e.procore_id) for e in exts]
    maybe_sent = PushJob.objects.filter(record=record, op=PushOp.BILL_UPSERT, attempts__gt=0).exists()
    if not targets and maybe_sent:
        # An upsert ran but left no id behind (lost answer, crash): ask Procore by origin_id.
        bill = bill_from_json(record.payload)
        projects = {tenant.procore_project_id} | set(
            JobProjectMapping.objects.filter(
                tenant=tenant, customer_full_name__in=[li.customer_full_name for li in bill.lines]
            ).values_list("project_id", flat=True)
        )
        for pid in sorted(projects):
            targets += [(ProcoreKind.REQUISITION, pid, int(r["id"])) for r in client.requisitions_by_origin(pid, record.qb_id)]
            targets += [(ProcoreKind.DIRECT_COST, pid, int(d["id"])) for d in client.direct_costs_by_origin(pid, record.qb_id)]
    if not targets:
        return Done(RecordState.DELETED, EventCode.PROCORE_DROPPED, "Deleted in QuickBooks before it reached Procore: dropped")
    for kind, pid, procore_id in targets:
        _remote_delete(client=client, kind=kind, project_id=pid, procore_id=procore_id)
    ExternalId.objects.filter(pk__in=[e.pk for e in exts]).delete()
    return Done(
        RecordState.DELETED,
        EventCode.PROCORE_DELETED,
        f"Deleted from Procore ({len(targets)} document(s))",
        targets[0][2],
        {"deleted": [{"kind": k, "project_id": p, "id": i} for k, p, i in targets]},
    )
