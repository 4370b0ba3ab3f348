"""Writes to the audit trail. Every function here runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.compiled_sql import locked_any
from audit.copy_insert import copy_insert_rows, json_text, reserve_ids
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
from audit.outbox import outbox_enqueue, outbox_enqueue_created, outbox_enqueue_many
from audit.qbtypes import QbBill, QbDeletion, QbVendor
from audit.record_rows import (
    EVENT_COLUMNS,
    NEW_RECORD_COLUMNS,
    RECEIVED_COLUMNS,
    identity,
    received_event,
    received_values,
)
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
_RECEIVED_FIELDS = [*RECEIVED_COLUMNS, "procore_environment", "state", "state_reason", "updated_at"]
# Where a new record's row (NEW_RECORD_COLUMNS) holds these.
_EDIT_SEQUENCE = NEW_RECORD_COLUMNS.index("edit_sequence")
_AMOUNT = NEW_RECORD_COLUMNS.index("amount")


def records_receive(
    *,
    tenant: Tenant,
    objs: Iterable[QbVendor | QbBill],
    session_id: int | None,
    triggers: list[int] | None = None,
) -> list[tuple[SyncRecord, bool]]:
    """records_store, answered with the records themselves (read back in one statement).

    Returns (record, changed) per distinct id, in page order.
    """
    stored = records_store(tenant=tenant, objs=objs, session_id=session_id, triggers=triggers)
    found = SyncRecord.objects.in_bulk([record_id for record_id, _ in stored])
    return [(found[record_id], changed) for record_id, changed in stored]


def records_store(
    *,
    tenant: Tenant,
    objs: Iterable[QbVendor | QbBill],
    session_id: int | None,
    triggers: list[int] | None = None,
) -> list[tuple[int, bool]]:
    """Store a page of vendors and bills QuickBooks sent; queue a push for each new or changed one.

    Idempotent on (id, EditSequence): a version already stored writes nothing and queues
    nothing, so a repeated page stores nothing twice. The page costs a fixed number of
    statements whatever its size: one locking read of the records it names, the new
    records' ids and one insert for them, one update for the changed ones, one insert for
    their audit events (one per new or changed record, same transaction), the outbox rows
    in bulk and one trigger on commit. New rows go in as plain values (audit.record_rows),
    never as model objects. Within a page the last version of an id wins (QuickBooks sends
    each object once). Returns (record id, changed) per distinct id, in page order.
    `triggers`: see outbox_enqueue_many.
    """
    latest: dict[tuple[str, str], QbVendor | QbBill] = {}
    for obj in objs:
        latest[identity(obj)] = obj
    if not latest:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # the caller's transaction when there is one
        existing = {
            (r.kind, r.qb_id): r
            # Key order, so two pages locking some of the same records cannot wait on each other crosswise.
            for r in locked_any(
                SyncRecord,
                where={"tenant": tenant.pk},
                any_of={"kind": {k for k, _ in latest}, "qb_id": [q for _, q in latest]},
            )
        }
        new_rows: list[tuple[Any, ...]] = []
        updated: list[SyncRecord] = []
        order: list[tuple[SyncRecord | None, bool]] = []  # per id: the existing record (None: new), changed
        for key, obj in latest.items():
            record = existing.get(key)
            if record is not None and (record.edit_sequence == obj.edit_sequence or record.deleted_in_qb):
                order.append((record, False))
                continue
            if record is None:
                new_rows.append((*key, *received_values(obj, encoded=True)))
            else:
                values = received_values(obj, encoded=False)
                _check_transition(record, RecordState.RECEIVED)
                for name, value in zip(RECEIVED_COLUMNS, values, strict=True):
                    setattr(record, name, value)
                record.procore_environment = tenant.procore_environment
                record.state, record.state_reason, record.updated_at = RecordState.RECEIVED, "", now
                updated.append(record)
            order.append((record, True))
        # Every new record gets one outbox job: both tables' new keys in one statement.
        reserved = reserve_ids([SyncRecord, PushJob], len(new_rows))
        new_ids = iter(
            copy_insert_rows(
                SyncRecord,
                columns=NEW_RECORD_COLUMNS,
                rows=new_rows,
                same={"tenant_id": tenant.pk, "procore_environment": tenant.procore_environment},
                ids=reserved[0] if reserved else True,
            )
        )
        job_ids = iter(reserved[1] if reserved else ())
        SyncRecord.objects.bulk_update(updated, _RECEIVED_FIELDS)
        # Per id in page order: (id, kind, edit_sequence, amount, new) of what changed.
        results: list[tuple[int, bool]] = []
        changed: list[tuple[int, str, str, Any, bool]] = []
        rows = iter(new_rows)
        for record, was_changed in order:
            if record is None:
                row = next(rows)
                record_id, kind = next(new_ids), row[0]
                edit_sequence, amount = row[_EDIT_SEQUENCE], row[_AMOUNT]
                changed.append((record_id, kind, edit_sequence, amount, True))
            else:
                record_id = record.pk
                if was_changed:
                    changed.append((record_id, record.kind, record.edit_sequence, record.amount, False))
            results.append((record_id, was_changed))
        _events_append(
            tenant_id=tenant.pk,
            code=EventCode.QB_RECEIVED,
            rows=[
                received_event(record_id=i, new=new, edit_sequence=seq, amount=amount, session_id=session_id)
                for i, _, seq, amount, new in changed
            ],
        )
        for kind, op in ((RecordKind.VENDOR, PushOp.VENDOR_UPSERT), (RecordKind.BILL, PushOp.BILL_UPSERT)):
            fresh = [i for i, k, _, _, new in changed if k == kind and new]
            known = [r for r in updated if r.kind == kind]
            if fresh:
                jobs = [next(job_ids) for _ in fresh] if reserved else None
                outbox_enqueue_created(tenant_id=tenant.pk, record_ids=fresh, op=op, triggers=triggers, job_ids=jobs)
            if known:
                outbox_enqueue_many(records=known, op=op, triggers=triggers)
            record_state_counted(kind=kind, state=RecordState.RECEIVED, count=len(fresh) + len(known))
    return results


def record_receive(*, tenant: Tenant, obj: QbVendor | QbBill, session_id: int | None) -> tuple[SyncRecord, bool]:
    """Store one vendor or bill (see records_receive). Returns (record, changed)."""
    return records_receive(tenant=tenant, objs=[obj], session_id=session_id)[0]


def _events_append(*, tenant_id: int, code: str, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Append one `code` event per (record id, message, data) in one insert, secrets redacted as
    event_record does."""
    copy_insert_rows(
        SyncEvent,
        columns=EVENT_COLUMNS,
        rows=[(record_id, redact(message), json_text(redact(data))) for record_id, message, data in rows],
        same={"tenant_id": tenant_id, "code": code},
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
            tenant_id=tenant.pk,
            code=EventCode.QB_DELETED,
            rows=[
                (
                    record.pk,
                    f"Deleted in QuickBooks at {d.time_deleted.isoformat()}",
                    {"session_id": session_id, "time_deleted": d.time_deleted.isoformat()},
                )
                for record, d in marked
            ],
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
