"""PURE: what a received QuickBooks vendor or bill writes, as plain values (no model objects).

records_store inserts a first sync's new records, their audit events and outbox rows as
row tuples straight into COPY (audit/copy_insert.py `copy_insert_rows`): building a
SyncRecord, a SyncEvent and a PushJob per record (Django's Model.__init__, a default per
field, `timezone.now()` per default) was about a quarter of a 500-bill page's store
(bench/bench_qbwc.py section 4, py-spy). The same values update a record that already
exists, so both paths store one thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from audit.copy_insert import JsonLater
from audit.models import RecordKind
from audit.qbtypes import QbBill, QbVendor, to_json, to_json_text

# The per-record columns of a received version, in the order received_values gives them
# (attribute names of audit.models.SyncRecord; the constant ones are shared per batch).
RECEIVED_COLUMNS = ("label", "vendor_list_id", "amount", "edit_sequence", "qb_time_modified", "payload")
# A new record's row: who it is, then what was received.
NEW_RECORD_COLUMNS = ("kind", "qb_id", *RECEIVED_COLUMNS)
# The per-event columns of a qb.received event (the tenant, code and time are shared per batch).
EVENT_COLUMNS = ("record_id", "message", "data")


def identity(obj: QbVendor | QbBill) -> tuple[str, str]:
    """(kind, QuickBooks id): what a record is unique on within its tenant."""
    return (RecordKind.VENDOR, obj.list_id) if isinstance(obj, QbVendor) else (RecordKind.BILL, obj.txn_id)


def received_values(obj: QbVendor | QbBill, *, encoded: bool) -> tuple[Any, ...]:
    """The RECEIVED_COLUMNS values of a version QuickBooks sent: its payload as JSON text to be
    encoded as its row is written (JsonLater, what COPY sends) when `encoded`, else as the dict
    a model's JSONField takes."""
    if isinstance(obj, QbVendor):
        label, vendor_id, amount = obj.name, obj.list_id, None
    else:
        label = obj.ref_number or obj.txn_number or obj.txn_id
        vendor_id, amount = obj.vendor_list_id, obj.amount_due
    payload = JsonLater(obj, to_json_text) if encoded else to_json(obj)
    return (label[:255], vendor_id, amount, obj.edit_sequence, obj.time_modified, payload)


def received_event(
    *, record_id: int, new: bool, edit_sequence: str, amount: Decimal | None, session_id: int | None
) -> tuple[int, str, dict[str, Any]]:
    """The EVENT_COLUMNS values of a record's qb.received event (not yet redacted)."""
    word = "New" if new else "Changed"
    data = {
        "session_id": session_id,
        "edit_sequence": edit_sequence,
        "amount": str(amount) if amount is not None else None,
    }
    return (record_id, f"{word} in QuickBooks (EditSequence {edit_sequence})", data)
