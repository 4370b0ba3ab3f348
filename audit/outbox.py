"""Putting work in the outbox. The contract between the QBWC side and the Procore pusher.

Callers run inside their own transaction; the Celery trigger is sent only once
that transaction commits, so a worker never looks for a row that is not there
yet. Losing the trigger loses nothing: the periodic sweep finds due rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.copy_insert import copy_insert, copy_insert_rows
from audit.models import JobReason, JobState, PushJob, PushOp, SyncRecord
from audit.transactions import retry_when_deadlocked

log = logging.getLogger(__name__)

# The Celery task that runs one job (procore_sync.tasks); sent by name through the current
# Celery app, so neither the QBWC side nor this contract imports the pusher or connector.
PUSH_JOB_TASK = "procore_sync.push_job_run"
# One message per stored page of jobs; a worker turns it into one PUSH_JOB_TASK per job.
PUSH_JOBS_DISPATCH_TASK = "procore_sync.push_jobs_dispatch"

# A deletion makes any queued create/update of the same record pointless.
_SUPERSEDED_BY = {
    PushOp.BILL_DELETE: PushOp.BILL_UPSERT,
    PushOp.VENDOR_DEACTIVATE: PushOp.VENDOR_UPSERT,
}


def outbox_enqueue(*, record: SyncRecord, op: str) -> PushJob:
    """Queue `op` for `record` (coalescing with an already queued job) and trigger it on commit."""
    return outbox_enqueue_many(records=[record], op=op)[0]


def outbox_enqueue_many(
    *,
    records: list[SyncRecord],
    op: str,
    triggers: list[int] | None = None,
) -> list[PushJob]:
    """Queue `op` for each record, in bulk; one trigger for all of them once the caller commits.

    A record with a job for `op` already queued re-arms that job (the newest QuickBooks
    version is read when it runs) instead of adding one; a deletion cancels any queued
    create/update of the same record. Runs in the caller's transaction (no savepoint: a
    failure here rolls the whole page back). Returns the job per record, in order.
    `triggers`: the caller's list of job ids to trigger; the jobs are added to it instead of
    being triggered here, so a page stored in several batches still sends one message.
    """
    if op not in PushOp.values:
        raise ValueError(f"unknown push operation {op!r}")
    if not records:
        return []
    now = timezone.now()
    known = [r.pk for r in records]
    queued_states = [JobState.PENDING, JobState.WAITING]
    with transaction.atomic(savepoint=False):
        superseded = _SUPERSEDED_BY.get(PushOp(op))
        # Every queued job of these records is locked once, in primary-key order, before any is
        # moved: lockers that take job rows in key order cannot wait on each other in a cycle.
        locked = (
            list(
                PushJob.objects.select_for_update()
                .filter(record_id__in=known, op__in=[op] if superseded is None else [op, superseded])
                .filter(state__in=queued_states)
                .order_by("pk")
            )
            if known
            else []
        )
        # Bulk job moves (here and below) stay bulk, one statement per page, and are guarded by
        # their filter on the states moved from, each a move JOB_TRANSITIONS allows (single-row
        # moves go through audit.services.job_set_state): pending/waiting → cancelled here,
        # pending/waiting → pending for the re-arm below.
        doomed = [job.pk for job in locked if job.op != op]
        if doomed:
            PushJob.objects.filter(pk__in=doomed, state__in=queued_states).update(
                state=JobState.CANCELLED, reason=JobReason.SUPERSEDED, updated_at=now
            )
        queued = {job.record_id: job for job in locked if job.op == op}
        if queued:
            PushJob.objects.filter(pk__in=[j.pk for j in queued.values()]).update(
                state=JobState.PENDING, reason=JobReason.NONE, not_before=now, attempts=0, updated_at=now
            )
            for job in queued.values():  # the rows just updated, mirrored in memory (not a second move)
                job.state, job.reason, job.not_before, job.attempts, job.updated_at = (
                    JobState.PENDING,
                    JobReason.NONE,
                    now,
                    0,
                    now,
                )
        fresh = [PushJob(tenant_id=r.tenant_id, record=r, op=op) for r in records if r.pk not in queued]
        copy_insert(fresh)
        made = {job.record_id: job for job in fresh}
        jobs = [queued.get(r.pk) or made[r.pk] for r in records]
        _trigger_on_commit([job.pk for job in jobs], triggers)
    return jobs


def outbox_enqueue_created(
    *,
    tenant_id: int,
    record_ids: list[int],
    op: str,
    triggers: list[int] | None = None,
    job_ids: Sequence[int] | None = None,
) -> None:
    """Queue `op` for records the caller inserted in this same transaction, in bulk.

    No job can name such a record yet, so nothing is looked up or re-armed (a first sync's
    page skips the read), and the jobs go in as plain rows, never as PushJob objects.
    `triggers`: as for outbox_enqueue_many. `job_ids`: the new jobs' keys, one per record,
    when the caller took them already (copy_insert.reserve_ids), else taken here.
    """
    if op not in PushOp.values:
        raise ValueError(f"unknown push operation {op!r}")
    if not record_ids:
        return
    made = copy_insert_rows(
        PushJob,
        columns=("record_id",),
        rows=[(i,) for i in record_ids],
        same={"tenant_id": tenant_id, "op": op},
        ids=job_ids if job_ids else True,
    )
    _trigger_on_commit(made, triggers)


def _trigger_on_commit(job_ids: list[int], triggers: list[int] | None) -> None:
    if triggers is not None:
        triggers.extend(job_ids)
    else:
        transaction.on_commit(lambda: outbox_trigger_many(job_ids=job_ids))


def outbox_trigger_many(*, job_ids: list[int]) -> None:
    """One broker message for a page of jobs: the job itself, or one dispatch a worker fans out.

    Publishing is the web request's cost (kombu connects per publish); a page of 500
    jobs sends one message. Never raises: the sweep re-sends due jobs a lost message left.
    """
    if len(job_ids) == 1:
        outbox_trigger(job_id=job_ids[0])
        return
    try:
        current_app.send_task(PUSH_JOBS_DISPATCH_TASK, args=[job_ids])
    except Exception:  # broker down: the jobs stay due in the database
        log.warning("could not send %d push jobs to the broker; the sweep will pick them up", len(job_ids))


def outbox_dispatch(*, job_ids: list[int]) -> int:
    """In a worker: send each job of a page its own message, so workers share the page. Returns how many."""
    for job_id in job_ids:
        outbox_trigger(job_id=int(job_id))
    return len(job_ids)


def outbox_trigger(*, job_id: int, countdown: float = 0) -> None:
    """Ask a worker to run the job (after `countdown` s). Never raises: the sweep is the safety net."""
    try:
        current_app.send_task(PUSH_JOB_TASK, args=[job_id], countdown=countdown or None)
    except Exception:  # broker down: the job stays due in the database
        log.warning("could not send push job %s to the broker; the sweep will pick it up", job_id)


def outbox_rearm(jobs: QuerySet[PushJob], *, limit: int | None = None) -> list[int]:
    """Move the waiting jobs among `jobs` back to pending now; trigger each once the caller commits.

    The update re-checks the state, so a job another process moved meanwhile is left
    alone. Returns the ids moved.
    """
    ids = list(jobs.filter(state=JobState.WAITING).values_list("pk", flat=True)[:limit])
    return _rearm_locked(ids) if ids else ids


@retry_when_deadlocked()
def _rearm_locked(ids: list[int]) -> list[int]:
    now = timezone.now()
    # Locked in primary-key order first (as outbox_enqueue_many does), then moved in one statement.
    moved = list(
        PushJob.objects.select_for_update()
        .filter(pk__in=ids, state=JobState.WAITING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # Bulk waiting → pending (a move JOB_TRANSITIONS allows), guarded by the filter on the state moved from.
    PushJob.objects.filter(pk__in=moved, state=JobState.WAITING).update(
        state=JobState.PENDING, reason=JobReason.NONE, not_before=now, updated_at=now
    )
    for job_id in moved:
        transaction.on_commit(lambda j=job_id: outbox_trigger(job_id=j))  # type: ignore[misc]
    return moved
