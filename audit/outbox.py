"""Putting work in the outbox. The contract between the QBWC side and the Procore pusher.

Callers run inside their own transaction; the Celery trigger is sent only once
that transaction commits, so a worker never looks for a row that is not there
yet. Losing the trigger loses nothing: the periodic sweep finds due rows.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import JobReason, JobState, PushJob, PushOp, SyncRecord

log = logging.getLogger(__name__)

# The Celery task that runs one job (procore_sync.tasks); sent by name through the current
# Celery app, so neither the QBWC side nor this contract imports the pusher or connector.
PUSH_JOB_TASK = "procore_sync.push_job_run"

# A deletion makes any queued create/update of the same record pointless.
_SUPERSEDED_BY = {
    PushOp.BILL_DELETE: PushOp.BILL_UPSERT,
    PushOp.VENDOR_DEACTIVATE: PushOp.VENDOR_UPSERT,
}


def outbox_enqueue(*, record: SyncRecord, op: str) -> PushJob:
    """Queue `op` for `record` (coalescing with an already queued job) and trigger it on commit."""
    if op not in PushOp.values:
        raise ValueError(f"unknown push operation {op!r}")
    now = timezone.now()
    with transaction.atomic():
        superseded = _SUPERSEDED_BY.get(PushOp(op))
        if superseded is not None:
            PushJob.objects.filter(
                record=record, op=superseded, state__in=[JobState.PENDING, JobState.WAITING]
            ).update(state=JobState.CANCELLED, reason=JobReason.SUPERSEDED, updated_at=now)
        job = (
            PushJob.objects.select_for_update()
            .filter(record=record, op=op, state__in=[JobState.PENDING, JobState.WAITING])
            .first()
        )
        if job is None:
            job = PushJob.objects.create(tenant_id=record.tenant_id, record=record, op=op)
        else:
            # Re-arm: the newest QuickBooks version is read when the job runs.
            job.state = JobState.PENDING
            job.reason = JobReason.NONE
            job.not_before = now
            job.attempts = 0
            job.save(update_fields=["state", "reason", "not_before", "attempts", "updated_at"])
        job_id = job.pk
        transaction.on_commit(lambda: outbox_trigger(job_id=job_id))
    return job


def outbox_trigger(*, job_id: int, countdown: float = 0) -> None:
    """Ask a worker to run the job (after `countdown` s). Never raises: the sweep is the safety net."""
    try:
        current_app.send_task(PUSH_JOB_TASK, args=[job_id], countdown=countdown or None)
    except Exception:  # broker down: the job stays due in the database
        log.warning("could not send push job %s to the broker; the sweep will pick it up", job_id)


def outbox_rearm(jobs: QuerySet[PushJob], *, limit: int | None = None) -> list[int]:
    """Move the waiting jobs among `jobs` back to pending now; trigger each once the caller commits.

    The update re-checks the state, so a job another process moved meanwhile is left
    alone (its extra trigger finds it not due). Returns the ids selected.
    """
    ids = list(jobs.filter(state=JobState.WAITING).values_list("pk", flat=True)[:limit])
    if not ids:
        return ids
    with transaction.atomic():
        now = timezone.now()
        PushJob.objects.filter(pk__in=ids, state=JobState.WAITING).update(
            state=JobState.PENDING, reason=JobReason.NONE, not_before=now, updated_at=now
        )
        for job_id in ids:
            transaction.on_commit(lambda j=job_id: outbox_trigger(job_id=j))  # type: ignore[misc]
    return ids
