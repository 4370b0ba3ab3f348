"""Writes to the audit trail. Every function here runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from audit.metrics import record_state_counted
from audit.models import (
    RECORD_TRANSITIONS,
    EventCode,
    PushOp,
    RecordKind,
    RecordState,
    SyncEvent,
    SyncRecord,
)
from audit.outbox import outbox_enqueue
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
    if state != record.state and state not in RECORD_TRANSITIONS[record.state]:
        raise IllegalTransition(f"{record.kind} {record.qb_id}: {record.state} → {state} is not allowed")
    with transaction.atomic():
        record.state = state
        record.state_reason = reason
        fields = ["state", "state_reason", "updated_at"]
        if procore_id is not None:
            record.procore_id = procore_id
            fields.append("procore_id")
        record.save(update_fields=fields)
        record_state_counted(kind=record.kind, state=state)
        return event_record(
            record=record, code=code, message=message, data=data, acting_user_id=acting_user_id
        )


def record_receive(
    *, tenant: Tenant, obj: QbVendor | QbBill, session_id: int | None
) -> tuple[SyncRecord, bool]:
    """Store a vendor or bill QuickBooks sent; queue its push if it is new or changed.

    Idempotent on (id, EditSequence): a repeat of a version already stored writes
    nothing and queues nothing. Returns (record, changed).
    """
    if isinstance(obj, QbVendor):
        kind, qb_id, label, vendor_id, amount = RecordKind.VENDOR, obj.list_id, obj.name, obj.list_id, None
        op = PushOp.VENDOR_UPSERT
    else:
        kind, qb_id = RecordKind.BILL, obj.txn_id
        label, vendor_id, amount = obj.ref_number or obj.txn_number or obj.txn_id, obj.vendor_list_id, obj.amount_due
        op = PushOp.BILL_UPSERT

    with transaction.atomic():
        record, created = SyncRecord.objects.select_for_update().get_or_create(
            tenant=tenant,
            kind=kind,
            qb_id=qb_id,
            defaults={"label": label[:255], "vendor_list_id": vendor_id},
        )
        if not created and (record.edit_sequence == obj.edit_sequence or record.deleted_in_qb):
            return record, False
        record.label = label[:255]
        record.vendor_list_id = vendor_id
        record.amount = amount
        record.edit_sequence = obj.edit_sequence
        record.qb_time_modified = obj.time_modified
        record.payload = to_json(obj)
        record.procore_environment = tenant.procore_environment
        record.save()
        record_set_state(
            record=record,
            state=RecordState.RECEIVED,
            code=EventCode.QB_RECEIVED,
            message=("New" if created else "Changed") + f" in QuickBooks (EditSequence {obj.edit_sequence})",
            data={"session_id": session_id, "edit_sequence": obj.edit_sequence, "amount": str(amount) if amount is not None else None},
        )
        outbox_enqueue(record=record, op=op)
    return record, True


def record_mark_deleted(
    *, tenant: Tenant, deletion: QbDeletion, session_id: int | None
) -> tuple[SyncRecord | None, bool]:
    """QuickBooks deleted a bill or vendor: audit it and queue the Procore side.

    Unknown ids (deleted before we ever read them) are ignored: there is nothing
    in Procore to remove. Repeats are ignored. Returns (record, changed).
    """
    kind = RecordKind.BILL if deletion.kind == "bill" else RecordKind.VENDOR
    with transaction.atomic():
        record = (
            SyncRecord.objects.select_for_update()
            .filter(tenant=tenant, kind=kind, qb_id=deletion.qb_id)
            .first()
        )
        if record is None or record.deleted_in_qb:
            return record, False
        record.deleted_in_qb = True
        record.save(update_fields=["deleted_in_qb", "updated_at"])
        event_record(
            record=record,
            code=EventCode.QB_DELETED,
            message=f"Deleted in QuickBooks at {deletion.time_deleted.isoformat()}",
            data={"session_id": session_id, "time_deleted": deletion.time_deleted.isoformat()},
        )
        outbox_enqueue(
            record=record, op=PushOp.BILL_DELETE if kind == RecordKind.BILL else PushOp.VENDOR_DEACTIVATE
        )
    return record, True


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


def records_replay(
    *, records: Iterable[SyncRecord], acting_user_id: int | None
) -> int:
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
