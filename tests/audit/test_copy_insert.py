"""copy_insert stores exactly what bulk_create stores, sets the same ids, and is counted like any statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from audit.copy_insert import (
    JsonLater,
    JsonText,
    _escape,
    _escape_utf8,
    _utf8_pieces,
    copy_insert,
    copy_insert_rows,
    copy_insert_streaming,
    json_text,
    reserve_ids,
)
from audit.models import EventCode, PushJob, PushOp, RecordKind, SyncEvent, SyncRecord
from qbwc.models import QbwcSession, RawResponse
from tests.factories import make_tenant
from tests.statements import count_statements


def _records(tenant: Any, prefix: str) -> list[SyncRecord]:
    return [
        SyncRecord(
            tenant=tenant,
            kind=RecordKind.BILL,
            qb_id=f"{prefix}-{i}",
            label=f"Bill {i}: tab\there, quote ' and \\ backslash, ünïcode",
            vendor_list_id="V-1",
            amount=Decimal("1234.56") + i,
            edit_sequence=str(1000 + i),
            qb_time_modified=datetime(2026, 11, 30, 12, 0, i, tzinfo=UTC),
            payload={"lines": [{"amount": "1.00", "memo": "a\nb"}], "n": i, "none": None},
        )
        for i in range(5)
    ]


def _stored(pks: list[int]) -> list[dict[str, Any]]:
    rows = [model_to_dict(r) | {"created": r.created_at is not None} for r in SyncRecord.objects.filter(pk__in=pks)]
    for row in rows:
        row.pop("id"), row.pop("qb_id")
    return sorted(rows, key=lambda r: r["edit_sequence"])


@pytest.mark.django_db
def test_rows_read_back_as_bulk_create_stores_them() -> None:
    tenant = make_tenant(slug="acme")
    copied = copy_insert(_records(tenant, "copy"))
    made = SyncRecord.objects.bulk_create(_records(tenant, "bulk"))
    assert all(r.pk for r in copied) and len({r.pk for r in copied}) == 5
    assert _stored([r.pk for r in copied]) == _stored([r.pk for r in made])
    # The ids set on the objects are the rows' ids, and the objects behave as saved ones.
    for record in copied:
        assert SyncRecord.objects.get(pk=record.pk).qb_id == record.qb_id
        assert not record._state.adding
    # Related rows by the new ids, then an ordinary insert: the sequence moved past them.
    events = copy_insert(
        [SyncEvent(tenant=tenant, record=r, code=EventCode.QB_RECEIVED, message="m", data={"k": 1}) for r in copied]
    )
    jobs = copy_insert([PushJob(tenant=tenant, record=r, op=PushOp.BILL_UPSERT) for r in copied])
    assert SyncEvent.objects.filter(pk__in=[e.pk for e in events], data={"k": 1}).count() == 5
    assert PushJob.objects.filter(pk__in=[j.pk for j in jobs], state="pending").count() == 5
    later = SyncRecord.objects.create(tenant=tenant, kind=RecordKind.VENDOR, qb_id="after")
    assert later.pk > max(r.pk for r in copied + made)


@pytest.mark.django_db
def test_it_is_counted_as_the_database_sees_it() -> None:
    tenant = make_tenant(slug="acme")
    with count_statements() as count:
        copy_insert(_records(tenant, "c"))
    # PostgreSQL: the ids from the sequence, then the COPY. SQLite: bulk_create's one INSERT.
    assert count.sql == (2 if connection.vendor == "postgresql" else 1)
    assert copy_insert([]) == []


@pytest.mark.django_db
def test_plain_rows_store_what_the_objects_store() -> None:
    tenant = make_tenant(slug="acme")
    objs = _records(tenant, "rows")
    columns = ("kind", "qb_id", "label", "vendor_list_id", "amount", "edit_sequence", "qb_time_modified", "payload")
    rows = [tuple(getattr(r, name) for name in columns) for r in objs]
    ids = copy_insert_rows(SyncRecord, columns=columns, rows=rows, same={"tenant_id": tenant.pk}, ids=True)
    made = SyncRecord.objects.bulk_create(_records(tenant, "bulk"))
    assert len(set(ids)) == 5
    assert _stored(ids) == _stored([r.pk for r in made])
    assert [SyncRecord.objects.get(pk=i).qb_id for i in ids] == [f"rows-{i}" for i in range(5)]  # ids in row order
    # Without ids the table's default numbers them (no statement for the ids on PostgreSQL).
    with count_statements() as count:
        assert copy_insert_rows(
            SyncEvent, columns=("record_id", "data"), rows=[(i, {"k": i}) for i in ids],
            same={"tenant_id": tenant.pk, "code": EventCode.QB_RECEIVED},
        ) == []  # fmt: skip
    assert count.sql == 1
    events = SyncEvent.objects.filter(record_id__in=ids).order_by("record_id")
    assert [(e.record_id, e.data, e.message, e.at is not None) for e in events] == [
        (i, {"k": i}, "", True) for i in ids
    ]
    assert copy_insert_rows(SyncEvent, columns=("record_id",), rows=[]) == []


@pytest.mark.django_db
def test_sharing_a_value_that_is_not_a_field_is_refused() -> None:
    tenant = make_tenant(slug="acme")
    with pytest.raises(TypeError, match="not a field"):
        copy_insert_rows(PushJob, columns=("record_id",), rows=[(1,)], same={"tenant_id": tenant.pk, "opp": "x"})


@pytest.mark.django_db
def test_times_and_json_text_read_back_as_given() -> None:
    tenant = make_tenant(slug="acme")
    stamp = datetime(2026, 11, 30, 7, 5, 9, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    payload = {"big": 2**70, "text": 'ü\t\\\n"', "none": None, "list": [1, "2"]}
    ids = copy_insert_rows(
        SyncRecord, columns=("kind", "qb_id", "qb_time_modified", "payload"),
        rows=[(RecordKind.BILL, "t-1", stamp, json_text(payload)), (RecordKind.BILL, "t-2", None, payload)],
        same={"tenant_id": tenant.pk}, ids=True,
    )  # fmt: skip
    first, second = (SyncRecord.objects.get(pk=i) for i in ids)
    assert first.qb_time_modified == stamp and second.qb_time_modified is None
    jobs = copy_insert_rows(PushJob, columns=("record_id",), rows=[(i,) for i in ids],
                            same={"tenant_id": tenant.pk, "op": PushOp.BILL_UPSERT, "not_before": stamp}, ids=True)  # fmt: skip
    assert [j.not_before for j in PushJob.objects.filter(pk__in=jobs)] == [stamp, stamp]
    assert first.payload == payload == second.payload
    assert json_text({"a": 1}) == '{"a":1}' and isinstance(json_text(2**70), JsonText)  # json.dumps past 64 bits


@pytest.mark.django_db
def test_a_json_value_encoded_later_is_encoded_once_as_its_row_is_written() -> None:
    """JsonLater: the row holds the value and its encoder; the text is made when the row is sent
    (once per row, none before the insert) and reads back as the value."""
    tenant = make_tenant(slug="acme")
    encoded: list[str] = []

    def encode(value: dict[str, Any]) -> str:
        encoded.append(value["n"])
        return json_text(value)

    payloads = [{"n": str(i), "text": 'ü\t\\\n"'} for i in range(3)]
    rows = [(RecordKind.BILL, f"t-{i}", JsonLater(p, encode)) for i, p in enumerate(payloads)]
    assert encoded == []
    ids = copy_insert_rows(
        SyncRecord, columns=("kind", "qb_id", "payload"), rows=rows, same={"tenant_id": tenant.pk}, ids=True
    )
    assert sorted(encoded) == ["0", "1", "2"]
    assert [SyncRecord.objects.get(pk=i).payload for i in ids] == payloads


@pytest.mark.django_db
def test_keys_reserved_for_two_tables_in_one_statement_are_the_rows_keys() -> None:
    tenant = make_tenant(slug="acme")
    with count_statements() as count:
        reserved = reserve_ids([SyncRecord, PushJob], 3)
    if connection.vendor != "postgresql":
        assert reserved is None and count.sql == 0  # the tables' defaults set the keys
        return
    assert reserved is not None and count.sql == 1
    records, jobs = reserved
    assert len(set(records)) == len(set(jobs)) == 3
    rows = [(RecordKind.BILL, f"r-{i}") for i in range(3)]
    got = copy_insert_rows(SyncRecord, columns=("kind", "qb_id"), rows=rows, same={"tenant_id": tenant.pk}, ids=records)
    assert got == records and sorted(SyncRecord.objects.values_list("pk", flat=True)) == sorted(records)
    made = copy_insert_rows(PushJob, columns=("record_id",), rows=[(i,) for i in records],
                            same={"tenant_id": tenant.pk, "op": PushOp.BILL_UPSERT}, ids=jobs)  # fmt: skip
    assert made == jobs and dict(PushJob.objects.values_list("pk", "record_id")) == dict(
        zip(jobs, records, strict=True)
    )
    with pytest.raises(ValueError, match="2 ids for 3 rows"):
        copy_insert_rows(SyncRecord, columns=("kind", "qb_id"), rows=rows, same={"tenant_id": tenant.pk}, ids=[1, 2])


@pytest.mark.django_db
def test_a_streamed_text_given_as_utf8_is_stored_as_the_same_text() -> None:
    """copy_insert_streaming of a raw answer kept as UTF-8 (soap.SoapCall.response): escaped and
    cut into pieces on bytes, read back as the text it encodes."""
    tenant = make_tenant(slug="acme")
    session = QbwcSession.objects.create(tenant=tenant, ticket_digest="t" * 64, ticket_hint="t")
    text = ("tab\there, \\ back\r\nslash \u2019 \U0001f4b0 é" * 4000) + "\u2019"
    bodies: tuple[str | bytes, ...] = (text.encode(), text)
    for i, body in enumerate(bodies):
        raw = RawResponse(tenant=tenant, session=session, request_seq=i, step="bills", status_code="0")
        raw.body = body  # type: ignore[assignment]  # UTF-8, as receive.py gives the raw answer
        copy_insert_streaming(raw, text_field="body")
    assert [r.body for r in RawResponse.objects.order_by("request_seq")] == [text, text]


def test_utf8_pieces_never_cut_a_character_and_escape_as_the_text_does() -> None:
    data = ("a\u2019\U0001f4b0\\\t\n\r" * 5000).encode()
    for size in (1, 2, 3, 5, 64, 1000):
        pieces = list(_utf8_pieces(data, size))
        assert b"".join(pieces) == data
        assert all(piece.decode() for piece in pieces)  # each whole characters (decodes on its own)
    escaped = b"".join(_escape_utf8(piece) for piece in _utf8_pieces(data, 1000))
    assert escaped == _escape(data.decode()).encode()
