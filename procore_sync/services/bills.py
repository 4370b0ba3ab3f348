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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from audit.models import EventCode, JobReason, PushJob, PushOp, RecordState
from audit.qbtypes import QbBill, bill_from_json
from procore_sync.client import ProcoreClient
from procore_sync.errors import Forbidden, NotFound, ProcoreError, RateLimited, TransientError, ValidationFailed
from procore_sync.models import (
    CachedCostCode,
    CostCodeMapping,
    ExternalId,
    JobProjectMapping,
    ProcoreKind,
)
from procore_sync.payloads import (
    BillPart,
    bill_split,
    direct_cost_header,
    direct_cost_line,
    line_origin_id,
    part_origin_id,
    payload_hash,
    requisition_create_body,
    requisition_update_body,
)
from procore_sync.services.catalog import commitment_lines_find, cost_code_find
from procore_sync.services.ids import external_get, external_save
from procore_sync.services.outcomes import Done, Waiting
from tenants.models import BillTarget

BILL_KINDS = (ProcoreKind.REQUISITION, ProcoreKind.DIRECT_COST)
# Every id-map kind a bill owns (documents and their items/lines).
BILL_ID_KINDS = (*BILL_KINDS, ProcoreKind.REQUISITION_ITEM, ProcoreKind.DIRECT_COST_LINE)
SYNC_BATCH = 1000  # Procore's sync actions take at most 1 000 items per call

Result = Done | Waiting | ProcoreError

# Invoice statuses a non-admin may still edit (the v1.1 update endpoint's description).
EDITABLE_INVOICE = ("draft", "revise_and_resubmit")


@dataclass
class Plan:
    """Where one project's share of a bill goes, and what we would send."""

    kind: str
    part: BillPart
    cost_code: CachedCostCode
    commitment_id: int = 0
    line_item_id: int = 0
    digest: str = ""
    line_digest: str = ""


@dataclass
class BillWork:
    """One bill job in a batch: its plans, and what happened to each part."""

    job: PushJob
    bill: QbBill
    vendor_id: int
    plans: list[Plan]
    written: list[dict[str, Any]] = field(default_factory=list)
    changed: int = 0
    error: ProcoreError | Waiting | None = None


def _nonzero(value: Any) -> bool:
    """Procore answers amounts as decimal strings; never through float."""
    try:
        return Decimal(str(value or "0")) != 0
    except InvalidOperation:
        return False


def _sync_errors(err: dict[str, Any]) -> str:
    """Procore's words for one failed sync item (`errors`: field → messages)."""
    errors = err.get("errors") or {}
    if isinstance(errors, dict):
        return "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
    return str(errors)


# --- planning ----------------------------------------------------------------------------


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
            f"Cost code {mapping.cost_code} (mapped for {bill.vendor_name!r}) does not exist in project "
            f"{part.project_id}: map the vendor to a cost code of that project, or add the code in Procore",
        )
    if tenant.bill_target != BillTarget.DIRECT_COST_ONLY:
        lines = commitment_lines_find(client=client, tenant=tenant, project_id=part.project_id, vendor_id=vendor_id)
        line = next((li for li in lines if li.cost_code_id == code.procore_id), None)
        if line is not None:
            plan = Plan(ProcoreKind.REQUISITION, part, code, line.commitment_id, line.line_item_id)
            plan.digest = payload_hash(
                [plan.kind, plan.commitment_id, plan.line_item_id, str(part.amount), part.origin_id, _header_of(bill)]
            )
            return plan
        if tenant.bill_target == BillTarget.REQUISITION_ONLY:
            raise Waiting(
                JobReason.NEEDS_MAPPING,
                f"Vendor {bill.vendor_name!r} has no commitment line with cost code {code.code} in project "
                f"{part.project_id}, and this tenant only sends subcontractor invoices: add the line to the "
                "vendor's commitment in Procore, or map the vendor to a cost code its commitment has",
            )
    if code.line_item_type_id is None:
        raise Waiting(
            JobReason.NEEDS_PROCORE,
            f"Cost code {code.code} in project {part.project_id} offers no cost type in Procore: add a cost "
            "type (line item type) to it in Procore; the bill is tried again by itself",
        )
    plan = Plan(ProcoreKind.DIRECT_COST, part, code)
    plan.digest = payload_hash([plan.kind, direct_cost_header(bill, part, vendor_id=vendor_id)])
    plan.line_digest = payload_hash(
        [
            code.procore_id,
            code.line_item_type_id,
            direct_cost_line(
                bill, part, direct_cost_id=0, cost_code_id=code.procore_id, line_item_type_id=code.line_item_type_id
            ),
        ]
    )
    return plan


def _header_of(bill: QbBill) -> list[Any]:
    return [bill.ref_number, bill.txn_number, bill.txn_date.isoformat(), bill.edit_sequence]


def _prepare(*, client: ProcoreClient, job: PushJob) -> BillWork:
    """Read the bill and plan every part: a bill either waits as a whole or goes out as a whole."""
    tenant = job.tenant
    bill = bill_from_json(job.record.payload)
    vendor_ext = external_get(job=job, qb_id=bill.vendor_list_id, kind=ProcoreKind.VENDOR)
    if vendor_ext is None:
        raise Waiting(
            JobReason.NEEDS_VENDOR,
            f"Waiting for vendor {bill.vendor_name!r} to reach Procore (its own push shows why it has not)",
        )
    job_projects = dict(JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", "project_id"))
    parts = bill_split(bill, job_projects=job_projects, default_project_id=tenant.procore_project_id)
    plans = [_plan(client=client, job=job, bill=bill, part=p, vendor_id=vendor_ext.procore_id) for p in parts]
    return BillWork(job, bill, vendor_ext.procore_id, plans)


# --- project directory ----------------------------------------------------------------------


def _project_vendor_ensure(
    *, client: ProcoreClient, job: PushJob, list_id: str, vendor_id: int, project_id: int
) -> None:
    """Add the vendor to the project's directory once per vendor and project (kept in the id map)."""
    if external_get(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, project_id=project_id):
        return
    client.project_vendor_add(project_id, vendor_id)
    external_save(job=job, qb_id=list_id, kind=ProcoreKind.PROJECT_VENDOR, procore_id=vendor_id, project_id=project_id)


# --- requisitions ---------------------------------------------------------------------------


def _create_or_recover(
    create: Callable[[], dict[str, Any]], find: Callable[[], list[dict[str, Any]]]
) -> dict[str, Any] | None:
    """Create; if the answer was lost after Procore may have committed, find it by origin_id (None = not there)."""
    try:
        return create()
    except TransientError as exc:
        if not exc.maybe_committed:
            raise
        if find():
            return None  # it exists: the caller updates it
        raise


def _item_for(req: dict[str, Any], line_item_id: int) -> dict[str, Any] | None:
    return next((i for i in req.get("items") or [] if int(i.get("line_item_id") or 0) == line_item_id), None)


def _invoice_matches(current: dict[str, Any], body: dict[str, Any]) -> bool:
    """Does the invoice in Procore already say what `body` would have written (to the cent)?"""
    want = body["requisition"]
    if str(current.get("invoice_number") or "") != str(want.get("invoice_number") or ""):
        return False
    have = {int(i["id"]): i.get("work_completed_this_period") for i in current.get("items") or []}
    for item in want.get("items") or []:
        try:
            if Decimal(str(have.get(int(item["id"])) or "0")) != Decimal(str(item["work_completed_this_period"])):
                return False
        except InvalidOperation:
            return False
    return True


def _invoice_refused(exc: ProcoreError, *, what: str, bill: QbBill, requisition_id: int, project_id: int) -> Waiting:
    """Procore refused to change an existing invoice: say what a person can do there."""
    return Waiting(
        JobReason.NEEDS_PROCORE,
        f"Procore would not {what} subcontractor invoice {requisition_id} (bill {bill.ref_number or bill.txn_id}, "
        f"project {project_id}): {exc}. Procore lets an integration change only the latest invoice of a "
        "commitment while it is draft or revise-and-resubmit, and delete only the latest open one. In Procore, "
        "set the invoice back to 'Revise and Resubmit' if it is the latest; if newer invoices exist, have an "
        "admin make the change, or delete the newer invoices of that commitment. It is tried again by itself "
        "(see docs/invoices.md).",
    )


def _requisition_write(*, client: ProcoreClient, work: BillWork, plan: Plan, retry: bool) -> int:
    job, bill = work.job, work.bill
    pid = plan.part.project_id
    ext = external_get(job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION, project_id=pid)
    item_ext = external_get(job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION_ITEM, project_id=pid)
    rid = ext.procore_id if ext else None
    if rid is None and retry:
        # An earlier attempt may have created it (lost answer, killed worker): find it by origin_id.
        found = client.requisitions_by_origin(pid, plan.part.origin_id)
        rid = int(found[0]["id"]) if found else None
    line_key = f"{plan.commitment_id}:{plan.line_item_id}"
    if rid is not None and item_ext is not None and item_ext.payload_hash.split(":")[0] != str(plan.commitment_id):
        # The part moved to another commitment: its old invoice goes, a new one is created.
        _remote_delete(client=client, bill=bill, kind=ProcoreKind.REQUISITION, project_id=pid, procore_id=rid)
        ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
        rid, ext, item_ext = None, None, None
    if rid is None:
        body = requisition_create_body(
            bill, plan.part, project_id=pid, commitment_id=plan.commitment_id, line_item_id=plan.line_item_id
        )
        req = _create_or_recover(
            lambda: client.requisition_create(body), lambda: client.requisitions_by_origin(pid, plan.part.origin_id)
        )
        if req is None:  # created by the lost call: update it (next attempt finds it by origin_id)
            raise TransientError("the invoice's create answer was lost; it is updated on the next attempt")
    else:
        if item_ext is not None and item_ext.payload_hash == line_key:
            item_id, zero = item_ext.procore_id, []
        else:
            # The first edit after a recovery, or the cost code moved to another line: read the items once.
            try:
                current = client.requisition_show(pid, rid)
            except NotFound:
                ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
                return _requisition_write(client=client, work=work, plan=plan, retry=False)
            target = _item_for(current, plan.line_item_id)
            if target is None:
                raise ValidationFailed(
                    f"invoice {rid} has no item for commitment line {plan.line_item_id}: the commitment's schedule "
                    "of values changed in Procore; delete the invoice there and replay the bill",
                    status=422,
                )
            item_id = int(target["id"])
            zero = [int(i["id"]) for i in current.get("items") or [] if _nonzero(i.get("work_completed_this_period"))]
        body = requisition_update_body(
            bill, plan.part, project_id=pid, commitment_id=plan.commitment_id, item_id=item_id, zero_item_ids=zero
        )
        try:
            req = client.requisition_update(rid, body)
        except NotFound:
            ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
            return _requisition_write(client=client, work=work, plan=plan, retry=False)
        except (Forbidden, ValidationFailed) as exc:
            # A person may have made the change in Procore already (an admin can edit any invoice):
            # then the invoice matches QuickBooks and the bill is done.
            current = client.requisition_show(pid, rid)
            if not _invoice_matches(current, body):
                raise _invoice_refused(exc, what="change", bill=bill, requisition_id=rid, project_id=pid) from None
            req = current
    rid = int(req["id"])
    external_save(
        job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION, procore_id=rid, digest=plan.digest, project_id=pid
    )
    item = _item_for(req, plan.line_item_id)
    if item is not None:
        external_save(
            job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION_ITEM, procore_id=int(item["id"]),
            digest=line_key, project_id=pid,
        )  # fmt: skip
    return rid


# --- direct costs (sync actions) ------------------------------------------------------------


def _direct_costs_sync(*, client: ProcoreClient, project_id: int, entries: list[tuple[BillWork, Plan]]) -> None:
    """Write the direct costs of one project for a batch: changed headers, then changed lines.

    At most two calls per 1 000 bills. Each item's result is read from `entities` / `errors`
    (matched by origin_id); a failed item fails its own bill only.
    """
    for start in range(0, len(entries), SYNC_BATCH):
        chunk = entries[start : start + SYNC_BATCH]
        headers: dict[str, tuple[BillWork, Plan]] = {}
        dc_ids: dict[str, int] = {}
        for work, plan in chunk:
            ext = external_get(
                job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST, project_id=project_id
            )
            origin = plan.part.origin_id
            if ext is not None and ext.payload_hash == plan.digest:
                dc_ids[origin] = ext.procore_id
            else:
                headers[origin] = (work, plan)
                if ext is not None:
                    dc_ids[origin] = ext.procore_id
        if headers:
            updates = [
                direct_cost_header(w.bill, p.part, vendor_id=w.vendor_id, direct_cost_id=dc_ids.get(origin))
                for origin, (w, p) in headers.items()
            ]
            answer = client.direct_costs_sync(project_id, updates)
            entities = {str(e.get("origin_id")): e for e in answer.get("entities") or []}
            errors = {str(e.get("origin_id")): e for e in answer.get("errors") or []}
            for origin, (work, plan) in headers.items():
                if origin in entities:
                    dc_ids[origin] = int(entities[origin]["id"])
                    external_save(
                        job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST, procore_id=dc_ids[origin],
                        digest=plan.digest, project_id=project_id,
                    )  # fmt: skip
                    work.changed += 1
                else:
                    dc_ids.pop(origin, None)
                    err = errors.get(origin)
                    work.error = ValidationFailed(
                        f"direct cost in project {project_id}: "
                        + (_sync_errors(err) if err else "missing from the sync answer"),
                        status=422 if err else None,
                        body=err,
                        permanent=err is not None,
                    )
        lines: dict[str, tuple[BillWork, Plan, ExternalId | None]] = {}
        for work, plan in chunk:
            origin = plan.part.origin_id
            if origin not in dc_ids or work.error is not None:
                continue
            line_ext = external_get(
                job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST_LINE, project_id=project_id
            )
            if line_ext is not None and line_ext.payload_hash == plan.line_digest:
                continue  # only the header changed
            lines[line_origin_id(origin)] = (work, plan, line_ext)
        if not lines:
            continue
        updates = [
            direct_cost_line(
                w.bill, p.part, direct_cost_id=dc_ids[p.part.origin_id], cost_code_id=p.cost_code.procore_id,
                line_item_type_id=p.cost_code.line_item_type_id or 0, line_id=le.procore_id if le else None,
            )
            for w, p, le in lines.values()
        ]  # fmt: skip
        answer = client.direct_cost_lines_sync(project_id, updates)
        entities = {str(e.get("origin_id")): e for e in answer.get("entities") or []}
        errors = {str(e.get("origin_id")): e for e in answer.get("errors") or []}
        for origin, (work, plan, _le) in lines.items():
            if origin in entities:
                external_save(
                    job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST_LINE,
                    procore_id=int(entities[origin]["id"]), digest=plan.line_digest, project_id=project_id,
                )  # fmt: skip
                work.changed += 1
            else:
                err = errors.get(origin)
                work.error = ValidationFailed(
                    f"direct cost line in project {project_id}: "
                    + (_sync_errors(err) if err else "missing from the sync answer"),
                    status=422 if err else None,
                    body=err,
                    permanent=err is not None,
                )
                # The header may have changed, the line did not: the next attempt sends the line again.


# --- deletes -------------------------------------------------------------------------------


def _remote_delete(*, client: ProcoreClient, bill: QbBill | None, kind: str, project_id: int, procore_id: int) -> None:
    try:
        if kind == ProcoreKind.REQUISITION:
            client.requisition_delete(project_id, procore_id)
        else:
            client.direct_cost_delete(project_id, procore_id)
    except NotFound:
        pass  # already gone: that is the goal
    except (Forbidden, ValidationFailed) as exc:
        if kind != ProcoreKind.REQUISITION or bill is None:
            raise
        raise _invoice_refused(
            exc, what="delete", bill=bill, requisition_id=procore_id, project_id=project_id
        ) from None


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
            works.append(_prepare(client=client, job=job))
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
                _requisition_write(client=client, work=work, plan=plan, retry=work.job.attempts > 1)
                work.changed += 1
            except RateLimited:
                raise
            except (Waiting, ProcoreError) as exc:
                work.error = exc
        else:
            by_project.setdefault(plan.part.project_id, []).append((work, plan))
    for project_id, entries in sorted(by_project.items()):
        try:
            _direct_costs_sync(client=client, project_id=project_id, entries=entries)
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
            _remote_delete(
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
        _remote_delete(client=client, bill=bill, kind=kind, project_id=pid, procore_id=procore_id)
        _forget(job=job, qb_id=record.qb_id, kind=kind, project_id=pid)
    return Done(
        RecordState.DELETED,
        EventCode.PROCORE_DELETED,
        f"Deleted from Procore ({len(targets)} document(s))",
        targets[0][2],
        {"deleted": [{"kind": k, "project_id": p, "id": i} for k, p, i in targets]},
    )
