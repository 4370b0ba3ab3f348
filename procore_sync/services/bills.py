"""Bill upsert (batched) and delete: a QuickBooks bill becomes one document per Procore project.

A bill's share of a project (its *part*) lands either as a subcontractor invoice
(requisition) on the vendor's commitment line with the mapped cost code, or as a
direct cost with one line. See docs/invoices.md for how QuickBooks events map onto
invoices and docs/procore-contract.md for every field sent.

Calls, at the floor the documented endpoints allow:
- direct costs: per project and batch of up to 1 000 bills, one
  `PATCH …/direct_costs/sync` (headers, only the changed ones) and one
  `PATCH …/direct_costs/line_items/sync` (lines, only the changed ones); both match
  by id, else origin_id, so a retry after a lost answer updates instead of adding;
- requisitions: one POST (header and item together) per new part, one PATCH (by the
  requisition item id kept in the id map) per edited part; no GET after either,
  because both answer with the record (`view=extended`). An origin_id lookup runs
  only when an earlier attempt may have created the invoice already.
- a vendor joins each project's directory once (remembered in the id map).
A payload hash per document skips unchanged writes: an unchanged run makes no call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audit.models import EventCode, PushJob, PushOp, RecordState
from audit.qbtypes import QbBill, bill_from_json
from procore_sync.client import ProcoreClient
from procore_sync.errors import ProcoreError, RateLimited
from procore_sync.models import ExternalId, JobProjectMapping, ProcoreKind
from procore_sync.payloads import part_origin_id
from procore_sync.services.bill_plan import BillWork, Plan, prepare
from procore_sync.services.direct_costs import direct_costs_sync
from procore_sync.services.ids import external_get, external_save
from procore_sync.services.outcomes import Done, Waiting
from procore_sync.services.requisitions import remote_delete, requisition_write

BILL_KINDS = (ProcoreKind.REQUISITION, ProcoreKind.DIRECT_COST)
# Every id-map kind a bill owns (documents and their items/lines).
BILL_ID_KINDS = (*BILL_KINDS, ProcoreKind.REQUISITION_ITEM, ProcoreKind.DIRECT_COST_LINE)

Result = Done | Waiting | ProcoreError


# --- project directory ----------------------------------------------------------------------


def _project_vendor_ensure(
    *, client: ProcoreClient, job: PushJob, list_id: str, vendor_id: int, project_id: int
) -> None:
    """Add the vendor to the project's directory once per vendor and project (kept in the id map)."""
    if external_get(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, project_id=project_id):
        return
    client.project_vendor_add(project_id, vendor_id)
    external_save(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, procore_id=vendor_id, project_id=project_id)


# --- deletes -------------------------------------------------------------------------------


def _forget(*, job: PushJob, qb_id: str, kind: str, project_id: int) -> None:
    """Drop a document's id map rows (and its item/line rows) once it is gone from Procore."""
    kinds = [kind, ProcoreKind.REQUISITION_ITEM if kind == ProcoreKind.REQUISITION else ProcoreKind.DIRECT_COST_LINE]
    ExternalId.objects.filter(
        tenant_id=job.tenant_id, environment=job.tenant.procore_environment, qb_id=qb_id,
        procore_kind__in=kinds, project_id=project_id,
    ).delete()  # fmt: skip


# --- entry points ---------------------------------------------------------------------------


def bills_upsert_batch(*, client: ProcoreClient, jobs: list[PushJob]) -> dict[int, Result]:
    """Create or update the Procore documents of a batch of bills of one tenant."""
    results: dict[int, Result] = {}
    works: list[BillWork] = []
    for job in jobs:
        try:
            works.append(prepare(client=client, job=job))
        except (Waiting, ProcoreError) as exc:
            if isinstance(exc, RateLimited):
                return results | {j.pk: exc for j in jobs if j.pk not in results}
            results[job.pk] = exc
    todo: list[tuple[BillWork, Plan]] = []
    for work in works:
        for plan in work.plans:
            ext = external_get(job=work.job, qb_id=work.bill.txn_id, kind=plan.kind, project_id=plan.part.project_id)
            line_ext = (
                external_get(
                    job=work.job,
                    qb_id=work.bill.txn_id,
                    kind=ProcoreKind.DIRECT_COST_LINE,
                    project_id=plan.part.project_id,
                )
                if plan.kind == ProcoreKind.DIRECT_COST
                else None
            )
            unchanged = (
                ext is not None
                and ext.payload_hash == plan.digest
                and (
                    plan.kind != ProcoreKind.DIRECT_COST
                    or (line_ext is not None and line_ext.payload_hash == plan.line_digest)
                )
            )
            if not unchanged:
                todo.append((work, plan))
    try:
        _write(client=client, todo=todo)
    except RateLimited as exc:
        # The connection's window is gone: everything not yet written comes back when it resets.
        for work in works:
            if work.error is None and any(w is work for w, _ in todo):
                work.error = exc
    for work in works:
        if work.error is None:
            try:
                _drop_moved_parts(client=client, work=work)
            except (Waiting, ProcoreError) as exc:
                work.error = exc
        results[work.job.pk] = work.error if work.error is not None else _done(work)
    return results


# With more vendors than this missing from one project's directory in a batch, one read of the
# directory (paginated) is cheaper than adding each: those already there need no call.
DIRECTORY_READ_FROM = 3


def _directory_known(*, client: ProcoreClient, todo: list[tuple[BillWork, Plan]]) -> None:
    """Remember (in the id map) which of the batch's vendors already are in each project's directory."""
    missing: dict[int, dict[int, tuple[PushJob, str]]] = {}
    for work, plan in todo:
        pid = plan.part.project_id
        if work.error is None and not external_get(
            job=work.job, qb_id=work.bill.vendor_list_id, kind=ProcoreKind.PROJECT_VENDOR, project_id=pid
        ):
            missing.setdefault(pid, {})[work.vendor_id] = (work.job, work.bill.vendor_list_id)
    for pid, vendors in missing.items():
        if len(vendors) < DIRECTORY_READ_FROM:
            continue
        present = {int(v["id"]) for v in client.project_vendors(pid) if v.get("id")}
        for vendor_id in present & set(vendors):
            job, list_id = vendors[vendor_id]
            external_save(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, procore_id=vendor_id, project_id=pid)


def _write(*, client: ProcoreClient, todo: list[tuple[BillWork, Plan]]) -> None:
    # The vendor joins each project's directory first (a direct cost's vendor must be there).
    _directory_known(client=client, todo=todo)
    seen: set[tuple[str, int]] = set()
    for work, plan in todo:
        key = (work.bill.vendor_list_id, plan.part.project_id)
        if key in seen or work.error is not None:
            continue
        seen.add(key)
        try:
            _project_vendor_ensure(
                client=client, job=work.job, list_id=key[0], vendor_id=work.vendor_id, project_id=key[1]
            )
        except RateLimited:
            raise
        except ProcoreError as exc:
            for w, p in todo:
                if (w.bill.vendor_list_id, p.part.project_id) == key:
                    w.error = exc
    by_project: dict[int, list[tuple[BillWork, Plan]]] = {}
    for work, plan in todo:
        if work.error is not None:
            continue
        if plan.kind == ProcoreKind.REQUISITION:
            try:
                requisition_write(client=client, work=work, plan=plan, retry=work.job.attempts > 1)
                work.changed += 1
            except RateLimited:
                raise
            except (Waiting, ProcoreError) as exc:
                work.error = exc
        else:
            by_project.setdefault(plan.part.project_id, []).append((work, plan))
    for project_id, entries in sorted(by_project.items()):
        try:
            direct_costs_sync(client=client, project_id=project_id, entries=entries)
        except RateLimited:
            raise
        except ProcoreError as exc:  # the whole call failed (5xx, timeout): every bill in it retries
            for work, _plan in entries:
                if work.error is None:
                    work.error = exc


def _drop_moved_parts(*, client: ProcoreClient, work: BillWork) -> None:
    """A part that moved (other project, or requisition ↔ direct cost) leaves its old document behind."""
    job = work.job
    keep = {(p.kind, p.part.project_id) for p in work.plans}
    for ext in ExternalId.objects.filter(
        tenant=job.tenant,
        environment=job.tenant.procore_environment,
        qb_id=work.bill.txn_id,
        procore_kind__in=BILL_KINDS,
    ):
        if (ext.procore_kind, ext.project_id) not in keep:
            remote_delete(
                client=client,
                bill=work.bill,
                kind=ext.procore_kind,
                project_id=ext.project_id,
                procore_id=ext.procore_id,
            )
            _forget(job=job, qb_id=work.bill.txn_id, kind=ext.procore_kind, project_id=ext.project_id)
            work.changed += 1


def _done(work: BillWork) -> Done:
    written: list[dict[str, Any]] = []
    for plan in work.plans:
        ext = external_get(job=work.job, qb_id=work.bill.txn_id, kind=plan.kind, project_id=plan.part.project_id)
        written.append(
            {
                "project_id": plan.part.project_id,
                "kind": plan.kind,
                "id": ext.procore_id if ext else None,
                "amount": str(plan.part.amount),
                "cost_code": plan.cost_code.code,
            }
        )
    first: int | None = written[0]["id"] if written else None
    if not work.changed:
        return Done(
            RecordState.SYNCED, EventCode.PUSH_SKIPPED, "Unchanged since the last push", first, {"parts": written}
        )
    kinds = ", ".join(f"{w['kind']} in project {w['project_id']}" for w in written)
    return Done(RecordState.SYNCED, EventCode.PUSH_SUCCEEDED, f"In Procore as {kinds}", first, {"parts": written})


def _bill_projects(job: PushJob, bill: QbBill) -> Iterable[int]:
    tenant = job.tenant
    return sorted(
        {tenant.procore_project_id}
        | set(
            JobProjectMapping.objects.filter(
                tenant=tenant, customer_full_name__in=[li.customer_full_name for li in bill.lines]
            ).values_list("project_id", flat=True)
        )
    )


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
    bill = bill_from_json(record.payload) if record.payload else None
    if not targets and maybe_sent and bill is not None:
        # An upsert ran but left no id behind (lost answer, crash): ask Procore by origin_id.
        for pid in _bill_projects(job, bill):
            for origin in (record.qb_id, part_origin_id(record.qb_id, pid, split=True)):
                targets += [
                    (ProcoreKind.REQUISITION, pid, int(r["id"])) for r in client.requisitions_by_origin(pid, origin)
                ]
                targets += [
                    (ProcoreKind.DIRECT_COST, pid, int(d["id"])) for d in client.direct_costs_by_origin(pid, origin)
                ]
    if not targets:
        return Done(
            RecordState.DELETED, EventCode.PROCORE_DROPPED, "Deleted in QuickBooks before it reached Procore: dropped"
        )
    for kind, pid, procore_id in targets:
        remote_delete(client=client, bill=bill, kind=kind, project_id=pid, procore_id=procore_id)
        _forget(job=job, qb_id=record.qb_id, kind=kind, project_id=pid)
    return Done(
        RecordState.DELETED,
        EventCode.PROCORE_DELETED,
        f"Deleted from Procore ({len(targets)} document(s))",
        targets[0][2],
        {"deleted": [{"kind": k, "project_id": p, "id": i} for k, p, i in targets]},
    )
