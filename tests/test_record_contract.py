"""The contract between the QBWC side and the Procore pusher: stored records and the outbox."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import AppendOnlyError, EventCode, JobState, PushJob, PushOp, SyncEvent, SyncRecord
from audit.qbtypes import (
    QbAddress,
    QbBill,
    QbBillLine,
    QbDeletion,
    QbVendor,
    _encode,
    bill_from_json,
    to_json,
    to_json_text,
    vendor_from_json,
)
from audit.services import record_mark_deleted, record_receive, record_replay
from tests.conftest import Cast

EST = timezone(timedelta(hours=-5))


def bill(edit: str = "1700000000", amount: str = "1250.10") -> QbBill:
    return QbBill(
        txn_id="1A2B-1700000000",
        edit_sequence=edit,
        vendor_list_id="80000001-1700000000",
        vendor_name="Smith & Sons Concrete",
        txn_date=date(2026, 11, 2),
        amount_due=Decimal(amount),
        time_modified=datetime(2026, 11, 20, 10, 15, 30, tzinfo=EST),
        ref_number="INV-77",
        lines=(
            QbBillLine(
                txn_line_id="L1", kind="expense", amount=Decimal(amount), customer_full_name="Riverside Clinic:Phase 1"
            ),
        ),
    )


def test_json_round_trip_keeps_decimals_offsets_and_text() -> None:
    original = bill()
    again = bill_from_json(to_json(original))
    assert again == original
    assert again.time_modified is not None and again.time_modified.utcoffset() == timedelta(hours=-5)
    vendor = QbVendor(list_id="80000001-1", edit_sequence="1", name='Müller "Bau" & Co')
    assert vendor_from_json(to_json(vendor)) == vendor


def test_receive_is_idempotent_on_edit_sequence(cast: Cast) -> None:
    record, changed = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    assert changed and record.amount == Decimal("1250.10") and record.label == "INV-77"
    _, again = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    assert not again
    assert PushJob.objects.filter(record=record).count() == 1
    assert SyncEvent.objects.filter(record=record, code=EventCode.QB_RECEIVED).count() == 1


def test_a_new_version_rearms_the_queued_job_instead_of_adding_one(cast: Cast) -> None:
    record, _ = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    record_receive(tenant=cast.acme, obj=bill(edit="1700000001", amount="99.99"), session_id=None)
    jobs = PushJob.objects.filter(record=record)
    assert jobs.count() == 1 and jobs.get().state == JobState.PENDING
    record.refresh_from_db()
    assert record.amount == Decimal("99.99") and record.payload["amount_due"] == "99.99"


def test_deletion_cancels_the_queued_upsert(cast: Cast) -> None:
    record, _ = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    deletion = QbDeletion(kind="bill", qb_id=record.qb_id, time_deleted=datetime(2026, 11, 21, tzinfo=EST))
    _, changed = record_mark_deleted(tenant=cast.acme, deletion=deletion, session_id=None)
    assert changed
    assert PushJob.objects.get(record=record, op=PushOp.BILL_UPSERT).state == JobState.CANCELLED
    assert PushJob.objects.get(record=record, op=PushOp.BILL_DELETE).state == JobState.PENDING
    assert record_mark_deleted(tenant=cast.acme, deletion=deletion, session_id=None)[1] is False


def test_records_are_per_tenant(cast: Cast) -> None:
    record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    record_receive(tenant=cast.globex, obj=bill(), session_id=None)
    assert SyncRecord.objects.filter(qb_id="1A2B-1700000000").count() == 2


def test_events_are_append_only(cast: Cast) -> None:
    record, _ = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    event = SyncEvent.objects.filter(record=record).first()
    assert event is not None
    event.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_replay_is_audited_with_the_acting_user(cast: Cast) -> None:
    record, _ = record_receive(tenant=cast.acme, obj=bill(), session_id=None)
    event = record_replay(record=record, acting_user_id=cast.sam.pk)
    assert event.code == EventCode.REPLAY_REQUESTED and event.acting_user_id == cast.sam.pk
    assert PushJob.objects.filter(record=record, state=JobState.PENDING).count() == 1


def test_periodic_schedules_are_created_once(db: None) -> None:
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    call_command("setup_periodic_tasks", stdout=io.StringIO())
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"audit.outbox_sweep", "procore_sync.in_flight_reap", "qbwc.sessions_expire"} <= tasks
    assert PeriodicTask.objects.filter(name="outbox sweep").count() == 1


def test_to_json_is_what_asdict_gives() -> None:
    """to_json walks the record itself; its answer is the asdict-based one it replaced."""
    vendor = QbVendor(list_id="1", edit_sequence="2", name="N", address=QbAddress(city="Boise"), balance=Decimal("1.5"))
    deletion = QbDeletion(kind="bill", qb_id="T", time_deleted=datetime(2026, 1, 2, tzinfo=EST))
    for record in (bill(), vendor, deletion):
        assert to_json(record) == _encode(dataclasses.asdict(record))


_TEXT = st.text(max_size=8)  # any character, lone surrogates too (the fallback's case)
_STAMP = st.datetimes(timezones=st.none() | st.timezones() | st.builds(timezone, st.timedeltas(
    min_value=timedelta(hours=-23), max_value=timedelta(hours=23))))  # fmt: skip
_MONEY = st.decimals(allow_nan=True, allow_infinity=True) | st.none()
_LINE = st.builds(QbBillLine, txn_line_id=_TEXT, kind=st.sampled_from(["expense", "item"]), amount=st.decimals(),
                  description=_TEXT, quantity=_MONEY, cost=_MONEY)  # fmt: skip
_RECORDS = (
    st.builds(QbBill, txn_id=_TEXT, edit_sequence=_TEXT, vendor_list_id=_TEXT, vendor_name=_TEXT, txn_date=st.dates(),
              amount_due=st.decimals(), time_created=_STAMP | st.none(), time_modified=_STAMP | st.none(),
              memo=_TEXT, due_date=st.dates() | st.none(), is_paid=st.booleans() | st.none(), open_amount=_MONEY,
              lines=st.lists(_LINE, max_size=3).map(tuple))
    | st.builds(QbVendor, list_id=_TEXT, edit_sequence=_TEXT, name=_TEXT, is_active=st.booleans(), balance=_MONEY,
                time_modified=_STAMP | st.none(), address=st.builds(QbAddress, addr1=_TEXT, city=_TEXT) | st.none())
    | st.builds(QbDeletion, kind=st.sampled_from(["bill", "vendor"]), qb_id=_TEXT, time_deleted=_STAMP, ref=_TEXT)
)  # fmt: skip


@given(_RECORDS)
@settings(max_examples=300, deadline=None)
def test_to_json_text_is_the_json_of_to_json(record: QbBill | QbVendor | QbDeletion) -> None:
    """The payload COPY stores (orjson's text) parses back to the dict to_json gives."""
    assert json.loads(to_json_text(record)) == to_json(record)
