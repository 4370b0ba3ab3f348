"""Periodic safety nets: re-send due jobs the broker lost, re-arm jobs whose blocker is gone, reap stuck ones."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit.models import EventCode, JobReason, JobState, PushJob, SyncRecord
from audit.outbox import outbox_rearm, outbox_trigger
from audit.services import event_record, job_set_state
from procore_sync.models import CostCodeMapping, ExternalId, JobProjectMapping, ProcoreKind
from procore_sync.services.outbox_runner import _newer_job_queued

log = logging.getLogger(__name__)

# A pending job this overdue has probably lost its broker message.
_LOST_AFTER = timedelta(seconds=60)


def outbox_sweep(*, limit: int = 1000) -> dict[str, int]:
    """Re-trigger overdue pending jobs and re-arm waiting jobs that can now proceed."""
    now = timezone.now()
    # Only an id of the tenant's *current* environment counts (a sandbox id is no use in production).
    vendor_arrived = Exists(
        ExternalId.objects.filter(
            tenant_id=OuterRef("tenant_id"),
            environment=OuterRef("tenant__procore_environment"),
            qb_id=OuterRef("record__vendor_list_id"),
            procore_kind=ProcoreKind.VENDOR,
        )
    )
    # A mapping saved (or changed) after the job went waiting may unblock it.
    changed_mapping = Exists(
        CostCodeMapping.objects.filter(tenant_id=OuterRef("tenant_id"), updated_at__gt=OuterRef("updated_at"))
    ) | Exists(JobProjectMapping.objects.filter(tenant_id=OuterRef("tenant_id"), updated_at__gt=OuterRef("updated_at")))
    rearmed = len(
        outbox_rearm(PushJob.objects.filter(reason=JobReason.NEEDS_VENDOR).filter(vendor_arrived), limit=5000)
    )
    rearmed += len(
        outbox_rearm(PushJob.objects.filter(reason=JobReason.NEEDS_MAPPING).filter(changed_mapping), limit=5000)
    )
    # Issue 10: the tenant is active and not paused again: its parked jobs go (the claim parks them anew if not).
    rearmed += len(
        outbox_rearm(
            PushJob.objects.filter(reason=JobReason.TENANT_PAUSED, tenant__active=True, tenant__sync_paused=False),
            limit=5000,
        )
    )
    # Waiting for a person to act in Procore: look again now and then, one attempt each time.
    recheck_before = now - timedelta(seconds=settings.PROCORE_RECHECK_SECONDS)
    rearmed += len(
        outbox_rearm(PushJob.objects.filter(reason=JobReason.NEEDS_PROCORE, updated_at__lt=recheck_before), limit=5000)
    )
    due = list(
        PushJob.objects.filter(state=JobState.PENDING, not_before__lte=now - _LOST_AFTER)
        .order_by("not_before")
        .values_list("pk", flat=True)[:limit]
    )
    for job_id in due:
        outbox_trigger(job_id=job_id)
    return {"resent": len(due), "rearmed": rearmed}


def in_flight_reap() -> int:
    """Return jobs in flight for longer than PROCORE_IN_FLIGHT_TIMEOUT_SECONDS to the queue."""
    cutoff = timezone.now() - timedelta(seconds=settings.PROCORE_IN_FLIGHT_TIMEOUT_SECONDS)
    reaped = 0
    for job_id in PushJob.objects.filter(state=JobState.IN_FLIGHT, in_flight_since__lt=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            job = PushJob.objects.select_for_update().get(pk=job_id)
            if job.state != JobState.IN_FLIGHT or job.in_flight_since is None or job.in_flight_since >= cutoff:
                continue
            state, reason = JobState.PENDING, JobReason.TRANSIENT
            if _newer_job_queued(job):
                state, reason = JobState.CANCELLED, JobReason.SUPERSEDED
            job_set_state(
                job,
                state=state,
                reason=reason,
                last_error=f"worker lost while in flight since {job.in_flight_since.isoformat()}",
                in_flight_since=None,
                not_before=timezone.now(),
            )
            event_record(
                record=SyncRecord.objects.get(pk=job.record_id),
                code=EventCode.PUSH_FAILED_TRANSIENT,
                message="Push interrupted (worker lost); queued again",
                data={"job_id": job.pk, "op": job.op},
            )
            if job.state == JobState.PENDING:
                transaction.on_commit(lambda j=job_id: outbox_trigger(job_id=j))  # type: ignore[misc]
        reaped += 1
    if reaped:
        log.warning("re-queued %s push job(s) stuck in flight", reaped)
    return reaped


__all__ = ["in_flight_reap", "outbox_sweep"]
