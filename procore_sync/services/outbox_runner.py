"""Running outbox jobs: claim in a short locked transaction, push over HTTP, record the outcome.

No transaction is held while Procore is called. The outcome (job state, record
state, audit event) is written in one transaction afterwards. A job stuck in
flight (worker killed) is returned to the queue by in_flight_reap.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.metrics import push_attempt_observed
from audit.models import EventCode, JobReason, JobState, PushJob, PushOp, RecordKind, RecordState, SyncRecord
from audit.outbox import outbox_rearm, outbox_trigger
from audit.services import IllegalTransition, event_record, job_set_state, record_set_state
from audit.transactions import retry_when_deadlocked
from procore_sync.client import ProcoreClient
from procore_sync.errors import ProcoreError, RateLimited, ReconnectNeeded, TransientError
from procore_sync.models import CostCodeMapping, JobProjectMapping, ProcoreKind
from procore_sync.services.bills import bill_delete, bills_upsert_batch
from procore_sync.services.ids import external_get
from procore_sync.services.outcomes import Done, Waiting
from procore_sync.services.vendors import vendor_deactivate, vendor_upsert_batch
from procore_sync.tokens import client_for, rate_save
from procore_sync.transport import CallRecord
from tenants.models import Tenant

log = logging.getLogger(__name__)

Result = Done | Waiting | ProcoreError

_WAIT_CODES: dict[str, str] = {
    JobReason.NEEDS_MAPPING: EventCode.MAPPING_MISSING,
    JobReason.NEEDS_RECONNECT: EventCode.RECONNECT_NEEDED,
}


# Ops that run as one batch per tenant (one sync call for many records).
_BATCHED = (PushOp.VENDOR_UPSERT, PushOp.BILL_UPSERT)


def _batch_limit(op: str) -> int:
    if op == PushOp.VENDOR_UPSERT:
        return settings.PROCORE_VENDOR_BATCH_SIZE
    return settings.PROCORE_BILL_BATCH_SIZE


def _claim(job_id: int) -> list[PushJob]:
    """Take the job (and, for batched ops, its tenant's due siblings) in flight; [] if not due.

    One lane per tenant: while any job of the tenant is in flight, nothing else of that
    tenant starts (the running one triggers the next when it ends). So a tenant never holds
    more than one worker, two sync calls for one project or company never overlap (Procore:
    no concurrent sync requests for the same resource), and a delete never overtakes the
    create in flight.
    """
    tenant_id = PushJob.objects.filter(pk=job_id).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        return []
    ids = _claim_ids(job_id, tenant_id)
    jobs = {j.pk: j for j in PushJob.objects.select_related("tenant", "record").filter(pk__in=ids)}
    return [jobs[i] for i in ids if i in jobs and jobs[i].state == JobState.IN_FLIGHT]


@retry_when_deadlocked()
def _claim_ids(job_id: int, tenant_id: int) -> list[int]:
    """The claim's one transaction: the ids now in flight, the asked-for job first."""
    now = timezone.now()
    # The tenant row first, then job rows: two claims of one tenant queue on the tenant.
    tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).values_list("active", "sync_paused").first()
    if tenant is None:
        return []
    if not tenant[0] or tenant[1]:
        _park_for_paused_tenant(job_id, now)
        return []
    # Takes the write lock on SQLite (select_for_update is a no-op there) so claims serialise.
    if not PushJob.objects.filter(pk=job_id, state=JobState.PENDING, not_before__lte=now).update(updated_at=now):
        return []
    job = PushJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state != JobState.PENDING or job.not_before > now:
        return []
    if PushJob.objects.filter(tenant_id=job.tenant_id, state=JobState.IN_FLIGHT).exists():
        return []  # the tenant's lane is busy; the job in flight triggers the next one when it ends
    ids = [job.pk]
    if job.op in _BATCHED:
        # Siblings another transaction holds (being re-queued, cancelled) are skipped, not waited
        # for: the claim never waits on a row it can do without, so it cannot deadlock on one.
        ids += list(
            PushJob.objects.select_for_update(skip_locked=True)
            .filter(tenant_id=job.tenant_id, op=job.op, state=JobState.PENDING, not_before__lte=now)
            .exclude(pk=job.pk)
            .order_by("not_before", "pk")
            .values_list("pk", flat=True)[: _batch_limit(job.op) - 1]
        )
    # Bulk PENDING → IN_FLIGHT (a move JOB_TRANSITIONS allows): the filter on the state moved from
    # is the guard here, as the batch is claimed in one statement rather than row by row.
    PushJob.objects.filter(pk__in=ids, state=JobState.PENDING).update(
        state=JobState.IN_FLIGHT, in_flight_since=now, attempts=F("attempts") + 1, updated_at=now
    )
    return ids


def _park_for_paused_tenant(job_id: int, now: Any) -> None:
    """A paused or inactive tenant: the job waits (no attempt spent, Procore not called), visibly.

    Runs inside _claim's transaction with the tenant row locked. The sweep re-arms it once the
    tenant is active and not paused again (sweep.outbox_sweep).
    """
    job = PushJob.objects.select_for_update().filter(pk=job_id, state=JobState.PENDING).first()
    if job is None:
        return
    record = SyncRecord.objects.select_for_update().get(pk=job.record_id)
    message = JobReason.TENANT_PAUSED.label
    # Pending → waiting stays "queued": the one-queued-job-per-record constraint still holds.
    job_set_state(job, state=JobState.WAITING, reason=JobReason.TENANT_PAUSED, last_error=message)
    _set_record(
        record,
        state=RecordState.WAITING,
        code=EventCode.PUSH_WAITING,
        message=message,
        reason=message,
        data={"op": job.op, "job_id": job.pk, "reason": JobReason.TENANT_PAUSED},
    )


def _handle(client: ProcoreClient, jobs: list[PushJob]) -> dict[int, Result]:
    if jobs[0].op == PushOp.VENDOR_UPSERT:
        return dict(vendor_upsert_batch(client=client, jobs=jobs))
    if jobs[0].op == PushOp.BILL_UPSERT:
        return dict(bills_upsert_batch(client=client, jobs=jobs))
    job = jobs[0]
    handler = {PushOp.VENDOR_DEACTIVATE: vendor_deactivate, PushOp.BILL_DELETE: bill_delete}[PushOp(job.op)]
    try:
        return {job.pk: handler(client=client, job=job)}
    except (Waiting, ProcoreError) as exc:
        return {job.pk: exc}


def push_job_run(*, job_id: int) -> str:
    """Run one outbox job (and, for batched ops, its tenant's due siblings). Returns a short status."""
    jobs = _claim(job_id)
    if not jobs:
        return "not due"
    job = jobs[0]
    calls: list[CallRecord] = []
    results: dict[int, Result]
    client: ProcoreClient | None = None
    started = time.perf_counter()
    try:
        client = client_for(job.tenant, recorder=calls.append)
        results = _handle(client, jobs)
    except (Waiting, ProcoreError) as exc:
        results = {j.pk: exc for j in jobs}
    except Exception as exc:  # a bug or a database hiccup: retry, visibly, within the attempt cap
        log.exception("push job %s crashed", job_id)
        results = {j.pk: TransientError(f"internal error: {type(exc).__name__}: {exc}") for j in jobs}
    if client is not None:
        rate_save(client)
    call_data = [c.as_dict() for c in calls][-40:]
    for j in jobs:
        result = results.get(j.pk, TransientError("no result"))
        try:
            _finish(j, result, call_data)
        except (OperationalError, InterfaceError):
            # The database dropped us while Procore was answering (found by drill 8). _finish
            # is one transaction, so running it again on a fresh connection is safe; otherwise
            # the job would sit "in flight" until the reaper.
            log.warning("push job %s: database connection lost while finishing; reconnecting once", j.pk)
            connection.close()
            _finish(j, result, call_data)
        push_attempt_observed(
            op=j.op,
            outcome=type(result).__name__,
            seconds=time.perf_counter() - started,
            tenant=j.tenant.slug,
            job_id=j.pk,
            record_id=j.record_id,
            attempt=j.attempts,
        )
    lead = results.get(job.pk)
    if isinstance(lead, RateLimited) and calls:
        # Visible once per batch (not once per record): Procore's window said wait; nothing was spent.
        event_record(
            record=job.record,
            code=EventCode.PUSH_ATTEMPT,
            message=f"Procore rate limit: {lead.message}; {len(jobs)} job(s) rescheduled in {lead.retry_after or 1:.0f}s",
            data={"op": job.op, "job_id": job.pk, "calls": call_data},
        )
    _trigger_next(job.tenant_id)
    return type(lead).__name__


def _trigger_next(tenant_id: int) -> None:
    """The tenant's lane is free again: start its oldest due job (which takes its batch along)."""
    next_id = (
        PushJob.objects.filter(tenant_id=tenant_id, state=JobState.PENDING, not_before__lte=timezone.now())
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if next_id is not None:
        outbox_trigger(job_id=next_id)


def _set_record(record: SyncRecord, **kwargs: Any) -> None:
    try:
        record_set_state(record=record, **kwargs)
    except IllegalTransition:
        # e.g. a deleted record is never "synced" again; keep the event, not the move.
        event_record(record=record, code=kwargs["code"], message=kwargs.get("message", ""), data=kwargs.get("data"))


def _retry_delay(attempts: int) -> float:
    base = settings.PROCORE_JOB_RETRY_BASE_SECONDS
    return min(3600.0, base * 2 ** max(attempts - 1, 0)) * random.uniform(0.5, 1.0)


def _move(job: PushJob, **kwargs: Any) -> bool:
    """The job's move in _finish, through the one guarded setter (saved once at the end of _finish).

    A job the reaper moved meanwhile (pending again, or cancelled) may not take every outcome
    (pending → done is not a move the table allows): it keeps its state, the record keeps the event.
    """
    try:
        return job_set_state(job, save=False, **kwargs)
    except IllegalTransition as exc:
        log.warning("%s; the job keeps its state", exc)
        return False


# --- The outcome of one run: handlers decide, one table says what each outcome writes ---------


@dataclass(frozen=True)
class _Rule:
    """What an outcome writes. record_state None: the record is left alone; "" / code "": the handler's."""

    job_state: str
    record_state: str | None
    code: str
    give_back_attempt: bool  # not the job's fault: the attempt the claim counted is returned
    retry: bool  # pending again after the verdict's delay (triggered once the outcome commits)


_OUTCOMES: dict[str, _Rule] = {
    "done": _Rule(JobState.DONE, "", "", give_back_attempt=False, retry=False),
    # The vendor or mapping arrived while the job was in flight: go again now.
    "unblocked": _Rule(JobState.PENDING, None, "", give_back_attempt=True, retry=True),
    # Waiting (a vendor, a mapping, a reconnect, a person in Procore) is not a failed attempt.
    "waiting": _Rule(JobState.WAITING, RecordState.WAITING, "", give_back_attempt=True, retry=False),
    # Procore's rate window said wait: back when it resets (visible once per batch, in push_job_run).
    "rate_limited": _Rule(JobState.PENDING, None, "", give_back_attempt=True, retry=True),
    "retry": _Rule(JobState.PENDING, RecordState.RETRYING, EventCode.PUSH_FAILED_TRANSIENT, False, retry=True),
    "failed": _Rule(JobState.FAILED, RecordState.FAILED, EventCode.PUSH_FAILED_PERMANENT, False, retry=False),
}


@dataclass(frozen=True)
class _Verdict:
    """One handler's decision: the outcome (a key of _OUTCOMES) and the words and figures that go with it."""

    outcome: str
    reason: str = JobReason.NONE
    error: str = ""  # the job's last_error
    delay: float = 0.0  # seconds, for an outcome that retries
    record_state: str = ""  # for a rule that leaves it to the handler
    code: str = ""
    message: str = ""
    record_reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    procore_id: int | None = None


def _on_done(job: PushJob, record: SyncRecord, result: Done, claimed_at: Any) -> _Verdict:
    return _Verdict(
        "done",
        record_state=result.state,
        code=result.code,
        message=result.message,
        data=result.data,
        procore_id=result.procore_id,
    )


def _on_waiting(job: PushJob, record: SyncRecord, result: Waiting | ReconnectNeeded, claimed_at: Any) -> _Verdict:
    reason = result.reason if isinstance(result, Waiting) else JobReason.NEEDS_RECONNECT
    if isinstance(result, Waiting) and _unblocked_meanwhile(job, record, reason, claimed_at):
        return _Verdict("unblocked", delay=0.01)
    code = _WAIT_CODES.get(reason, EventCode.PUSH_WAITING)
    return _Verdict(
        "waiting",
        reason=reason,
        error=result.message,
        code=code,
        message=result.message,
        record_reason=result.message,
        data={"reason": reason},
    )


def _on_rate_limited(job: PushJob, record: SyncRecord, result: RateLimited, claimed_at: Any) -> _Verdict:
    return _Verdict("rate_limited", reason=JobReason.TRANSIENT, error=result.message, delay=result.retry_after or 1.0)


def _on_error(job: PushJob, record: SyncRecord, result: ProcoreError, claimed_at: Any) -> _Verdict:
    if not result.permanent and job.attempts < settings.PROCORE_JOB_MAX_ATTEMPTS:
        delay = max(_retry_delay(job.attempts), result.retry_after or 0.0)
        return _Verdict(
            "retry",
            reason=JobReason.TRANSIENT,
            error=str(result),
            delay=delay,
            record_reason=str(result),
            message=f"{result} (attempt {job.attempts}; retrying in {delay:.0f}s)",
        )
    gave_up = "" if result.permanent else f" — gave up after {job.attempts} attempts"
    return _Verdict(
        "failed",
        reason=JobReason.PERMANENT if result.permanent else JobReason.TRANSIENT,
        error=str(result),
        message=f"{result}{gave_up}",
        record_reason=f"Procore said: {result}",
        data={"status": result.status, "body": result.body},
    )


# First match wins: ReconnectNeeded and RateLimited are ProcoreErrors, so they come before it.
_HANDLERS: tuple[tuple[type[Any], Callable[..., _Verdict]], ...] = (
    (Done, _on_done),
    (Waiting, _on_waiting),
    (ReconnectNeeded, _on_waiting),
    (RateLimited, _on_rate_limited),
    (ProcoreError, _on_error),
)


@retry_when_deadlocked()
def _finish(job: PushJob, result: Result, calls: list[dict[str, Any]]) -> None:
    """Write the job's and the record's new state and the audit event, together (one transaction).

    The record row is locked before the job row, the order QuickBooks' side takes them in
    (records of a page, then their jobs), so the two do not wait on each other crosswise.
    """
    now = timezone.now()
    retry_in: float | None = None
    record = SyncRecord.objects.select_for_update().filter(pk=job.record_id).first()
    fresh = PushJob.objects.select_for_update().filter(pk=job.pk).first()
    if fresh is None or record is None:  # deleted meanwhile (its tenant or record went away): nothing to record
        log.warning("push job %s vanished before its outcome was written", job.pk)
        return
    job = fresh
    if job.state != JobState.IN_FLIGHT:
        log.warning("job %s was no longer in flight (%s); outcome kept as an event only", job.pk, job.state)
    data: dict[str, Any] = {"op": job.op, "job_id": job.pk, "attempt": job.attempts, "calls": calls}
    claimed_at = job.in_flight_since
    job.in_flight_since = None
    handler = next(h for kind, h in _HANDLERS if isinstance(result, kind))
    verdict = handler(job, record, result, claimed_at)
    rule = _OUTCOMES[verdict.outcome]
    fields: dict[str, Any] = {"last_error": verdict.error}
    if rule.give_back_attempt:
        fields["attempts"] = max(job.attempts - 1, 0)
    if rule.retry:
        fields["not_before"] = now + timedelta(seconds=verdict.delay)
    if _move(job, state=rule.job_state, reason=verdict.reason, **fields) and rule.retry:
        retry_in = verdict.delay
    if rule.record_state is not None:
        _set_record(
            record,
            state=rule.record_state or verdict.record_state,
            code=rule.code or verdict.code,
            message=verdict.message,
            reason=verdict.record_reason,
            data=data | verdict.data,
            procore_id=verdict.procore_id,
        )
    if verdict.outcome == "done" and job.op == PushOp.VENDOR_UPSERT:
        _rearm_bills_of_vendor(job.tenant_id, record.qb_id)
    if job.state in (JobState.PENDING, JobState.WAITING) and _newer_job_queued(job):
        # QuickBooks sent a newer version meanwhile; its job pushes the latest payload.
        _move(job, state=JobState.CANCELLED, reason=JobReason.SUPERSEDED)
        retry_in = None
    job.save()
    if retry_in is not None:
        job_id, delay = job.pk, retry_in
        transaction.on_commit(lambda: outbox_trigger(job_id=job_id, countdown=delay))


def _newer_job_queued(job: PushJob) -> bool:
    """At most one queued job per record and op (a database constraint): is there another?"""
    return (
        PushJob.objects.filter(record_id=job.record_id, op=job.op, state__in=[JobState.PENDING, JobState.WAITING])
        .exclude(pk=job.pk)
        .exists()
    )


def _unblocked_meanwhile(job: PushJob, record: SyncRecord, reason: str, claimed_at: Any) -> bool:
    """Did the blocker disappear between the job's check and now? (Closes the re-arm race.)"""
    if reason == JobReason.NEEDS_VENDOR:
        # Serialise with the vendor job's outcome (it holds this row while it re-arms our
        # waiting bills): either it sees us waiting, or we see its id map entry.
        list(
            SyncRecord.objects.select_for_update()
            .filter(tenant_id=job.tenant_id, kind=RecordKind.VENDOR, qb_id=record.vendor_list_id)
            .values_list("pk", flat=True)
        )
        return external_get(job=job, qb_id=record.vendor_list_id, kind=ProcoreKind.VENDOR) is not None
    if reason == JobReason.NEEDS_MAPPING and claimed_at is not None:
        return CostCodeMapping.objects.filter(tenant_id=job.tenant_id, updated_at__gte=claimed_at).exists() or (
            JobProjectMapping.objects.filter(tenant_id=job.tenant_id, updated_at__gte=claimed_at).exists()
        )
    return False


def _rearm_bills_of_vendor(tenant_id: int, vendor_list_id: str) -> None:
    outbox_rearm(
        PushJob.objects.filter(
            tenant_id=tenant_id, reason=JobReason.NEEDS_VENDOR, record__vendor_list_id=vendor_list_id
        )
    )
