"""Writes to the audit trail. Every function here runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.copy_insert import copy_insert
from audit.metrics import record_state_counted
from audit.models import (
    JOB_TRANSITIONS,
    RECORD_TRANSITIONS,
    EventCode,
    JobReason,
    PushJob,
    PushOp,
    RecordKind,
    RecordState,
    SyncEvent,
    SyncRecord,
)
from audit.outbox import outbox_enqueue, outbox_enqueue_many
from audit.qbtypes import QbBill, QbDeletion, QbVendor, to_json
from audit.redact import redact
from tenants.models import Tenant


class IllegalTransition(ValueError):
    pass


def event_record(
    *,
    record: SyncRecord,
    code: str,
    message: str = "",
    data: dict[str, Any] | None = None,
    acting_user_id: int | None = None,
) -> SyncEvent:
    """Append one event to the record's timeline (secrets redacted) in the caller's transaction."""
    return SyncEvent.objects.create(
        tenant_id=record.tenant_id,
        record=record,
        code=code,
        message=redact(message),
        data=redact(data or {}),
        acting_user_id=acting_user_id,
    )


def _check_transition(record: SyncRecord, state: str) -> None:
    if state != record.state and state not in RECORD_TRANSITIONS[record.state]:
        raise IllegalTransition(f"{record.kind} {record.qb_id}: {record.state} → {state} is not allowed")


# The fields that may move together with a job's state (what the outcome of a run sets).
_JOB_FIELDS = frozenset({"last_error", "not_before", "attempts", "in_flight_since"})


def job_set_state(job: PushJob, *, state: str, reason: str = JobReason.NONE, save: bool = True, **fields: Any) -> bool:
    """Move one push job to `state`/`reason` (checked against JOB_TRANSITIONS), with the fields that go along.

    The one setter for single-row job moves. Returns False, writing nothing, when nothing
    would change; raises IllegalTransition on a move the table does not allow (a same-state
    move that changes anything must be in the table too: PENDING → PENDING is, DONE → DONE
    is not). `save=False` when the caller saves the row once, with its other fields, in its
    own transaction.
    """
    unknown = set(fields) - _JOB_FIELDS
    if unknown:
        raise TypeError(f"job_set_state: not a job outcome field: {sorted(unknown)}")
    if job.state == state and job.reason == reason and all(getattr(job, k) == v for k, v in fields.items()):
        return False
    if state not in JOB_TRANSITIONS[job.state]:
        raise IllegalTransition(f"push job {job.pk}: {job.state} → {state} is not allowed")
    job.state, job.reason = state, reason
    for name, value in fields.items():
        setattr(job, name, value)
    if save:
        job.save(update_fields=["state", "reason", "updated_at", *fields])
    return True


def record_set_state(
    *,
    record: SyncRecord,
    state: str,
    code: str,
    message: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
    acting_user_id: int | None = None,
    procore_id: int | None = None,
) -> SyncEvent:
    """Move a record to `state` (checked against RECORD_TRANSITIONS) and write its event."""
    _check_transition(record, state)
    with transaction.atomic():
        record.state = state
        record.state_reason = reason
        fields = ["state", "state_reason", "updated_at"]
        if procore_id is not None:
            record.procore_id = procore_id
            fields.append("procore_id")
        record.save(update_fields=fields)
        record_state_counted(kind=record.kind, state=state)
        return event_record(record=record, code=code, message=message, data=data, acting_user_id=acting_user_id)


# What a received version rewrites on a record that already exists.
_RECEIVED_FIELDS = [
    "label", "vendor_list_id", "amount", "edit_sequence", "qb_time_modified", "payload",
    "procore_environment", "state", "state_reason", "updated_at",
]  # fmt: skip


def _identity(obj: QbVendor | QbBill) -> tuple[str, str]:
    return (RecordKind.VENDOR, obj.list_id) if isinstance(obj, QbVendor) else (RecordKind.BILL, obj.txn_id)


def records_receive(
    *,
    tenant: Tenant,
    objs: Iterable[QbVendor | QbBill],
    session_id: int | None,
    triggers: list[int] | None = None,
) -> list[tuple[SyncRecord, bool]]:
    """Store a page of vendors and bills QuickBooks sent; queue a push for each new or changed one.

    Idempotent on (id, EditSequence): a version already stored writes nothing and queues
    nothing, so a repeated page stores nothing twice. The page costs a fixed number of
    statements whatever its size: one locking read of the records it names, one insert
    and one update for the records, one insert for their audit events (one per new or
    changed record, same transaction), the outbox rows in bulk and one trigger on commit.
    Within a page the last version of an id wins (QuickBooks sends each object once).
    Returns (record, changed) per distinct id, in page order. `triggers`: see outbox_enqueue_many.
    """
    latest: dict[tuple[str, str], QbVendor | QbBill] = {}
    for obj in objs:
        latest[_identity(obj)] = obj
    if not latest:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # the caller's transaction when there is one
        existing = {
            (r.kind, r.qb_id): r
            # Key order, so two pages locking some of the same records cannot wait on each other crosswise.
            for r in SyncRecord.objects.select_for_update()
            .filter(tenant=tenant, kind__in={k for k, _ in latest}, qb_id__in=[q for _, q in latest])
            .order_by("pk")
        }
        results: list[tuple[SyncRecord, bool]] = []
        created: list[SyncRecord] = []
        updated: list[SyncRecord] = []
        messages: list[tuple[SyncRecord, str, str]] = []
        for (kind, qb_id), obj in latest.items():
            record = existing.get((kind, qb_id))
            if record is not None and (record.edit_sequence == obj.edit_sequence or record.deleted_in_qb):
                results.append((record, False))
                continue
            if record is None:
                record = SyncRecord(tenant=tenant, kind=kind, qb_id=qb_id)
                created.append(record)
                word = "New"
            else:
                _check_transition(record, RecordState.RECEIVED)
                updated.append(record)
                word = "Changed"
            if isinstance(obj, QbVendor):
                label, vendor_id, amount = obj.name, obj.list_id, None
            else:
                label = obj.ref_number or obj.txn_number or obj.txn_id
                vendor_id, amount = obj.vendor_list_id, obj.amount_due
            record.label = label[:255]
            record.vendor_list_id = vendor_id
            record.amount = amount
            record.edit_sequence = obj.edit_sequence
            record.qb_time_modified = obj.time_modified
            record.payload = to_json(obj)
            record.procore_environment = tenant.procore_environment
            record.state = RecordState.RECEIVED
            record.state_reason = ""
            record.updated_at = now
            messages.append((record, word, str(amount) if amount is not None else ""))
            results.append((record, True))
        copy_insert(created)  # ids come back (COPY on PostgreSQL, bulk_create on SQLite >= 3.35)
        SyncRecord.objects.bulk_update(updated, _RECEIVED_FIELDS)
        _events_append(
            [
                (
                    record,
                    EventCode.QB_RECEIVED,
                    f"{word} in QuickBooks (EditSequence {record.edit_sequence})",
                    {"session_id": session_id, "edit_sequence": record.edit_sequence, "amount": amount or None},
                )
                for record, word, amount in messages
            ]
        )
        created_ids = frozenset(r.pk for r in created)
        for kind, op in ((RecordKind.VENDOR, PushOp.VENDOR_UPSERT), (RecordKind.BILL, PushOp.BILL_UPSERT)):
            queue = [record for record, _, _ in messages if record.kind == kind]
            if queue:
                outbox_enqueue_many(records=queue, op=op, created_here=created_ids, triggers=triggers)
                record_state_counted(kind=kind, state=RecordState.RECEIVED, count=len(queue))
    return results


def record_receive(*, tenant: Tenant, obj: QbVendor | QbBill, session_id: int | None) -> tuple[SyncRecord, bool]:
    """Store one vendor or bill (see records_receive). Returns (record, changed)."""
    return records_receive(tenant=tenant, objs=[obj], session_id=session_id)[0]


def _events_append(rows: list[tuple[SyncRecord, str, str, dict[str, Any]]]) -> None:
    """Append one event per (record, code, message, data) in one insert, secrets redacted as event_record does."""
    copy_insert(
        [
            SyncEvent(tenant_id=record.tenant_id, record=record, code=code, message=redact(message), data=redact(data))
            for record, code, message, data in rows
        ]
    )


def records_mark_deleted(
    *, tenant: Tenant, deletions: Iterable[QbDeletion], session_id: int | None, triggers: list[int] | None = None
) -> list[tuple[SyncRecord | None, bool]]:
    """QuickBooks deleted bills or vendors: audit each and queue the Procore side, in bulk.

    Unknown ids (deleted before we ever read them) are ignored: there is nothing in
    Procore to remove. Repeats (within the page or of an earlier page) are ignored.
    Returns (record or None, changed) per deletion, in order. `triggers`: see outbox_enqueue_many.
    """
    items = list(deletions)
    if not items:
        return []

    def kind_of(d: QbDeletion) -> str:
        return RecordKind.BILL if d.kind == "bill" else RecordKind.VENDOR

    now = timezone.now()
    with transaction.atomic(savepoint=False):
        found = {
            (r.kind, r.qb_id): r
            for r in SyncRecord.objects.select_for_update()
            .filter(tenant=tenant, kind__in={kind_of(d) for d in items}, qb_id__in={d.qb_id for d in items})
            .order_by("pk")
        }
        results: list[tuple[SyncRecord | None, bool]] = []
        marked: list[tuple[SyncRecord, QbDeletion]] = []
        for deletion in items:
            record = found.get((kind_of(deletion), deletion.qb_id))
            if record is None or record.deleted_in_qb:
                results.append((record, False))
                continue
            record.deleted_in_qb = True
            record.updated_at = now
            marked.append((record, deletion))
            results.append((record, True))
        SyncRecord.objects.bulk_update([r for r, _ in marked], ["deleted_in_qb", "updated_at"])
        _events_append(
            [
                (
                    record,
                    EventCode.QB_DELETED,
                    f"Deleted in QuickBooks at {d.time_deleted.isoformat()}",
                    {"session_id": session_id, "time_deleted": d.time_deleted.isoformat()},
                )
                for record, d in marked
            ]
        )
        for kind, op in ((RecordKind.BILL, PushOp.BILL_DELETE), (RecordKind.VENDOR, PushOp.VENDOR_DEACTIVATE)):
            queue = [record for record, _ in marked if record.kind == kind]
            if queue:
                outbox_enqueue_many(records=queue, op=op, triggers=triggers)
    return results


def record_mark_deleted(
    *, tenant: Tenant, deletion: QbDeletion, session_id: int | None
) -> tuple[SyncRecord | None, bool]:
    """One deletion (see records_mark_deleted). Returns (record, changed)."""
    return records_mark_deleted(tenant=tenant, deletions=[deletion], session_id=session_id)[0]


def record_replay(*, record: SyncRecord, acting_user_id: int | None) -> SyncEvent:
    """A new attempt with today's mapping and credentials; the id map prevents duplicates."""
    if record.kind == RecordKind.BILL:
        op = PushOp.BILL_DELETE if record.deleted_in_qb else PushOp.BILL_UPSERT
    else:
        op = PushOp.VENDOR_DEACTIVATE if record.deleted_in_qb else PushOp.VENDOR_UPSERT
    with transaction.atomic():
        event = event_record(
            record=record,
            code=EventCode.REPLAY_REQUESTED,
            message="Replay requested",
            data={"op": op},
            acting_user_id=acting_user_id,
        )
        outbox_enqueue(record=record, op=op)
    return event


def records_replay(*, records: Iterable[SyncRecord], acting_user_id: int | None) -> int:
    """Replay each record (see record_replay) in one transaction. Returns how many were queued.

    The one service behind the record page's Replay button, the admin action and
    "replay all failed"; the caller has checked tenants.access.can_replay.
    """
    count = 0
    with transaction.atomic():
        for record in records:
            record_replay(record=record, acting_user_id=acting_user_id)
            count += 1
    return count


def records_replay_failed(*, tenant: Tenant, acting_user_id: int | None) -> int:
    """Replay every failed record of one tenant. Returns how many were queued."""
    failed = SyncRecord.objects.filter(tenant=tenant, state=RecordState.FAILED).order_by("pk")
    return records_replay(records=failed.select_for_update(), acting_user_id=acting_user_id)
