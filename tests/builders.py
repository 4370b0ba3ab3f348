"""Builders for audit records and push jobs, through the real services (shared by admin/audit/browser tests)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncRecord
from audit.qbtypes import QbBill, QbBillLine, QbVendor
from audit.services import job_set_state, record_receive, record_set_state
from tenants.models import Tenant

_seq = itertools.count(1)
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def vendor(tenant: Tenant, name: str, list_id: str | None = None) -> SyncRecord:
    n = next(_seq)
    obj = QbVendor(list_id=list_id or f"8000{n:04d}-1", edit_sequence=str(n), name=name, time_modified=T0)
    record, _ = record_receive(tenant=tenant, obj=obj, session_id=None)
    return record


def bill(
    tenant: Tenant,
    vendor_record: SyncRecord,
    ref: str,
    amount: str = "1250.00",
    job: str = "Smith:Kitchen",
) -> SyncRecord:
    n = next(_seq)
    obj = QbBill(
        txn_id=f"{n:X}-1",
        edit_sequence=str(n),
        vendor_list_id=vendor_record.qb_id,
        vendor_name=vendor_record.label,
        txn_date=T0.date(),
        amount_due=Decimal(amount),
        ref_number=ref,
        time_modified=T0,
        lines=(QbBillLine(txn_line_id=f"{n}-L1", kind="expense", amount=Decimal(amount), customer_full_name=job),),
    )
    record, _ = record_receive(tenant=tenant, obj=obj, session_id=None)
    return record


def _claimed(record: SyncRecord) -> list[PushJob]:
    """The record's pending jobs, moved in flight the way the pusher claims them."""
    jobs = list(PushJob.objects.filter(record=record, state=JobState.PENDING))
    for job in jobs:
        job_set_state(job, state=JobState.IN_FLIGHT, reason=JobReason.NONE, attempts=job.attempts + 1)
    return jobs


def park_for_mapping(record: SyncRecord) -> PushJob:
    """What the pusher does with a bill it cannot map: job waiting/needs_mapping, record waiting."""
    [job] = _claimed(record)
    job_set_state(job, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING, attempts=job.attempts - 1)
    record_set_state(
        record=record, state=RecordState.WAITING, code=EventCode.MAPPING_MISSING, reason="No cost code for this vendor"
    )
    return job


def fail(record: SyncRecord, reason: str = "HTTP 422: vendor_id is invalid") -> SyncRecord:
    """What the pusher does on a permanent error: job failed, record failed with the reason."""
    for job in _claimed(record):
        job_set_state(job, state=JobState.FAILED, reason=JobReason.PERMANENT, last_error=reason)
    record_set_state(
        record=record,
        state=RecordState.FAILED,
        code=EventCode.PUSH_FAILED_PERMANENT,
        message=reason,
        reason=reason,
        data={"status": 422},
    )
    return record


def sync(record: SyncRecord, procore_id: int = 5550001) -> SyncRecord:
    for job in _claimed(record):
        job_set_state(job, state=JobState.DONE, reason=JobReason.NONE)
    record_set_state(
        record=record,
        state=RecordState.SYNCED,
        code=EventCode.PUSH_SUCCEEDED,
        message="Created in Procore",
        procore_id=procore_id,
    )
    return record
