"""Batched page ingest keeps every guarantee of record-at-a-time storage.

Service-level tests call audit.services directly (the storage contract); the session
tests drive the real endpoint with the Web Connector simulator over HTTP.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections.abc import Generator, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection

from audit.models import EventCode, JobState, PushJob, PushOp, RecordKind, SyncEvent, SyncRecord
from audit.qbtypes import QbBill, QbDeletion, QbVendor
from audit.services import records_mark_deleted, records_receive
from peers.qbwc_simulator.company import Answer, FakeCompany, Faults
from peers.qbwc_simulator.dataset import build
from qbwc import qbxml, receive
from qbwc.models import QbwcSession, RawResponse, SessionState, Step, Watermark
from qbwc.receive import BATCH_RECORDS
from tests.conftest import Cast
from tests.harness_qbwc import QbwcHarness

EST = timezone(timedelta(hours=-5))


def bill(n: int, edit: str = "1", amount: str = "10.00") -> QbBill:
    return QbBill(
        txn_id=f"T{n}", edit_sequence=edit, vendor_list_id="V1", vendor_name="Smith", txn_date=date(2026, 11, 2),
        amount_due=Decimal(amount), time_modified=datetime(2026, 11, 20, 10, 0, tzinfo=EST), ref_number=f"INV-{n}",
    )  # fmt: skip


def vendor(n: int, edit: str = "1") -> QbVendor:
    return QbVendor(list_id=f"V{n}", edit_sequence=edit, name=f"Vendor {n}")


def _events(tenant: Any, code: str = EventCode.QB_RECEIVED) -> int:
    return SyncEvent.objects.filter(tenant=tenant, code=code).count()


def test_a_page_stores_each_record_once_with_its_event_and_outbox_row(
    cast: Cast, django_capture_on_commit_callbacks: Any
) -> None:
    page = [bill(n) for n in range(1000)]
    with django_capture_on_commit_callbacks() as callbacks:
        results = records_receive(tenant=cast.acme, objs=page, session_id=None)
    assert len(results) == 1000 and all(changed for _, changed in results)
    assert SyncRecord.objects.filter(tenant=cast.acme, kind=RecordKind.BILL).count() == 1000
    assert _events(cast.acme) == 1000
    assert SyncEvent.objects.filter(tenant=cast.acme).values("record").distinct().count() == 1000
    assert PushJob.objects.filter(tenant=cast.acme, op=PushOp.BILL_UPSERT, state=JobState.PENDING).count() == 1000
    # One Celery trigger for the page, not one per record (other on-commit hooks: metrics).
    assert len([c for c in callbacks if c.__module__ == "audit.outbox"]) == 1
    stored = SyncRecord.objects.get(tenant=cast.acme, qb_id="T7")
    assert (stored.amount, stored.label, stored.edit_sequence, stored.vendor_list_id) == (
        Decimal("10.00"),
        "INV-7",
        "1",
        "V1",
    )
    assert stored.payload["ref_number"] == "INV-7" and stored.procore_environment == cast.acme.procore_environment


def test_a_repeated_page_stores_and_queues_nothing(cast: Cast, django_capture_on_commit_callbacks: Any) -> None:
    page = [bill(n) for n in range(50)] + [vendor(n) for n in range(5)]
    records_receive(tenant=cast.acme, objs=page, session_id=None)
    before = (SyncRecord.objects.count(), SyncEvent.objects.count(), PushJob.objects.count())
    with django_capture_on_commit_callbacks() as callbacks:
        again = records_receive(tenant=cast.acme, objs=page, session_id=None)
    assert not any(changed for _, changed in again)
    assert (SyncRecord.objects.count(), SyncEvent.objects.count(), PushJob.objects.count()) == before
    assert [c for c in callbacks if c.__module__ == "audit.outbox"] == []


def test_duplicates_within_a_page_keep_the_last_version_once(cast: Cast) -> None:
    results = records_receive(
        tenant=cast.acme,
        objs=[bill(1, "1", "5.00"), bill(2), bill(1, "2", "7.50"), bill(1, "2", "7.50")],
        session_id=None,
    )
    assert [(r.qb_id, changed) for r, changed in results] == [("T1", True), ("T2", True)]
    record = SyncRecord.objects.get(tenant=cast.acme, qb_id="T1")
    assert (record.edit_sequence, record.amount) == ("2", Decimal("7.50"))
    assert SyncEvent.objects.filter(record=record).count() == 1
    assert PushJob.objects.filter(record=record).count() == 1


def test_a_mixed_page_updates_changed_records_and_skips_unchanged(cast: Cast) -> None:
    records_receive(tenant=cast.acme, objs=[bill(1), bill(2), bill(3)], session_id=None)
    results = records_receive(tenant=cast.acme, objs=[bill(1), bill(2, "2", "20.00"), bill(4)], session_id=7)
    assert [(r.qb_id, changed) for r, changed in results] == [("T1", False), ("T2", True), ("T4", True)]
    changed = SyncRecord.objects.get(tenant=cast.acme, qb_id="T2")
    assert changed.amount == Decimal("20.00")
    messages = list(SyncEvent.objects.filter(record=changed).order_by("id").values_list("message", "data"))
    assert messages[-1][0] == "Changed in QuickBooks (EditSequence 2)"
    assert messages[-1][1] == {"session_id": 7, "edit_sequence": "2", "amount": "20.00"}
    # The queued upsert of T2 was re-armed, not doubled.
    assert PushJob.objects.filter(record=changed, op=PushOp.BILL_UPSERT).count() == 1


def test_deletions_in_bulk_cancel_queued_upserts_and_ignore_unknown_and_repeats(cast: Cast) -> None:
    records_receive(tenant=cast.acme, objs=[bill(1), bill(2)], session_id=None)
    gone = datetime(2026, 11, 21, 9, 0, tzinfo=EST)
    deletions = [QbDeletion(kind="bill", qb_id=q, time_deleted=gone) for q in ("T1", "T1", "T9", "T2")]
    results = records_mark_deleted(tenant=cast.acme, deletions=deletions, session_id=None)
    assert [changed for _, changed in results] == [True, False, False, True]
    assert _events(cast.acme, EventCode.QB_DELETED) == 2
    assert PushJob.objects.filter(tenant=cast.acme, op=PushOp.BILL_DELETE).count() == 2
    assert not PushJob.objects.filter(tenant=cast.acme, op=PushOp.BILL_UPSERT, state=JobState.PENDING).exists()
    assert records_mark_deleted(tenant=cast.acme, deletions=deletions, session_id=None) == [
        (r, False) for r, _ in results
    ]
    # A deleted record ignores later versions of itself.
    assert records_receive(tenant=cast.acme, objs=[bill(1, "9")], session_id=None)[0][1] is False


def test_a_page_stays_within_one_tenant(cast: Cast) -> None:
    records_receive(tenant=cast.acme, objs=[bill(1)], session_id=None)
    results = records_receive(tenant=cast.globex, objs=[bill(1)], session_id=None)
    assert results[0][1] is True
    assert SyncRecord.objects.filter(qb_id="T1").count() == 2
    assert SyncRecord.objects.filter(tenant=cast.globex).count() == 1


@pytest.mark.slow
def test_a_thousand_record_page_through_the_endpoint(qbwc: QbwcHarness, settings: Any) -> None:
    settings.QBWC_MAX_RETURNED = 1000
    result = qbwc.run(qbwc.company(build(bills=1000, vendors=10, changes=False)))
    assert result.outcome == "done", result.last_error
    assert len(result.requests) == 4  # one page per step
    bills = SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL)
    assert bills.count() == 1000
    assert SyncEvent.objects.filter(record__in=bills, code=EventCode.QB_RECEIVED).count() == 1000
    assert PushJob.objects.filter(record__in=bills, op=PushOp.BILL_UPSERT).count() == 1000
    session = QbwcSession.objects.get(tenant=qbwc.tenant)
    assert (session.bills_received, session.records_changed) == (1000, 1010)


def test_the_mark_moves_only_when_the_whole_step_is_stored(qbwc: QbwcHarness, settings: Any) -> None:
    settings.QBWC_MAX_RETURNED = 10
    data = build(bills=25, vendors=4, changes=False)
    # vendors: one page; bills: pages of 10, 10, 5. QuickBooks goes away after the 2nd bill page.
    dropped = qbwc.run(qbwc.company(data, Faults(stop_after_responses=3)))
    assert dropped.outcome == "dropped"
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count() == 20
    marks = dict(Watermark.objects.filter(tenant=qbwc.tenant).values_list("query", "session"))
    assert Step.VENDORS in marks and Step.BILLS not in marks  # two of three bill pages stored: no mark

    qbwc.age_sessions(3600)
    again = qbwc.run(qbwc.company(data))
    assert again.outcome == "done", again.last_error
    bill_query = next(r for r in again.requests if "<BillQueryRq" in r)
    assert "ModifiedDateRangeFilter" not in bill_query  # the bill step starts over from no mark
    bills = SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL)
    assert bills.count() == 25
    assert SyncEvent.objects.filter(record__in=bills, code=EventCode.QB_RECEIVED).count() == 25
    assert PushJob.objects.filter(record__in=bills, op=PushOp.BILL_UPSERT).count() == 25
    latest = QbwcSession.objects.filter(tenant=qbwc.tenant, state=SessionState.CLOSED).get()
    assert set(Watermark.objects.filter(tenant=qbwc.tenant, session=latest).values_list("query", flat=True)) >= {
        Step.BILLS,
        Step.BILL_DELETIONS,
        Step.VENDOR_DELETIONS,
    }


class BadRecordCompany(FakeCompany):
    """QuickBooks whose bill page has a malformed record `n` (its AmountDue is not a number)."""

    def __init__(self, *args: Any, n: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n = n

    def process(self, request: str) -> Answer:
        answer = super().process(request)
        if "<BillRet>" not in answer.response:
            return answer
        text = answer.response
        at = -1
        for _ in range(self.n):
            at = text.index("<BillRet>", at + 1)
        cut = text.index("<AmountDue>", at) + len("<AmountDue>")
        return Answer(text[:cut] + "x" + text[cut:], answer.hresult, answer.message)


@pytest.mark.parametrize("n", [1, 2 * BATCH_RECORDS + 30])
def test_a_bad_record_mid_page_rolls_back_every_batch_already_stored(qbwc: QbwcHarness, settings: Any, n: int) -> None:
    """A page of several batches whose record n is malformed: the batches stored before it roll
    back with the page, nothing of the page stays (records, events, jobs, raw response, mark)."""
    settings.QBWC_MAX_RETURNED = 3 * BATCH_RECORDS
    data = build(bills=3 * BATCH_RECORDS, vendors=3, changes=False)
    result = qbwc.run(BadRecordCompany(data, n=n))
    assert result.outcome != "done"
    assert f"BillRet #{n}: " in result.last_error and "cannot read" in result.last_error
    assert not SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).exists()
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.VENDOR).count() == 3  # the page before
    assert SyncEvent.objects.filter(tenant=qbwc.tenant).count() == 3
    assert PushJob.objects.filter(tenant=qbwc.tenant).count() == 3
    assert list(RawResponse.objects.filter(tenant=qbwc.tenant).values_list("step", flat=True)) == [Step.VENDORS]
    assert Step.BILLS not in set(Watermark.objects.filter(tenant=qbwc.tenant).values_list("query", flat=True))
    assert QbwcSession.objects.get(tenant=qbwc.tenant).state == SessionState.FAILED

    qbwc.age_sessions(3600)
    again = qbwc.run(qbwc.company(data))  # QuickBooks answers right: the whole page is stored once
    assert again.outcome == "done", again.last_error
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count() == 3 * BATCH_RECORDS


@pytest.mark.django_db(transaction=True)
def test_a_page_aborted_for_a_deadlock_mid_page_is_read_afresh_and_stored_once(
    qbwc: QbwcHarness, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run reads on from the reader whose head was already read; a run again (the
    database aborted the first in its second batch) must read the whole answer from its start."""
    settings.QBWC_MAX_RETURNED = 2 * BATCH_RECORDS + 10
    calls = {"n": 0}
    real = receive.store_records

    def store_then_deadlock(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # vendors' one batch, the bills' first, then the bills' second
            exc = OperationalError("deadlock detected")
            exc.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
            raise exc
        real(*args, **kwargs)

    monkeypatch.setattr(receive, "store_records", store_then_deadlock)
    result = qbwc.run(qbwc.company(build(bills=2 * BATCH_RECORDS + 10, vendors=3, changes=False)))
    assert result.outcome == "done", result.last_error
    assert calls["n"] == 3 + 3  # the bill page's three batches, run again whole
    bills = SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL)
    assert bills.count() == 2 * BATCH_RECORDS + 10
    assert SyncEvent.objects.filter(record__in=bills).count() == 2 * BATCH_RECORDS + 10
    assert PushJob.objects.filter(record__in=bills).count() == 2 * BATCH_RECORDS + 10
    assert QbwcSession.objects.get(tenant=qbwc.tenant).bills_received == 2 * BATCH_RECORDS + 10


def test_the_raw_response_is_stored_exactly_as_sent(qbwc: QbwcHarness) -> None:
    """The body goes to the database in slices (COPY on PostgreSQL): every character survives."""
    data = build(bills=3, vendors=2, changes=False)
    result = qbwc.run(qbwc.company(data))
    assert result.outcome == "done", result.last_error
    bodies = {r.step: r for r in RawResponse.objects.filter(tenant=qbwc.tenant)}
    company = qbwc.company(data)
    request = qbxml.build_query("bills", request_id="x", version="13.0", since=None, max_returned=500)
    expected = company.process(request).response
    stored = bodies[Step.BILLS]
    assert stored.body.replace('requestID="2"', 'requestID="x"', 1) == expected or len(stored.body) == len(expected)
    assert stored.sha256 == hashlib.sha256(stored.body.encode()).hexdigest()
    assert stored.records == 3 and stored.status_code == "0"


@pytest.mark.parametrize(
    "body",
    [
        "plain",
        "tab\there",
        "new\nline\r\nand\\back\\\\slash \\N \\. end",
        "Zoë “quotes” \u2013 € \U0001f6a7",
        "x" * 200_000,
    ],
)
def test_streamed_copy_keeps_every_character(cast: Cast, body: str) -> None:
    from audit.copy_insert import copy_insert_streaming
    from qbwc.models import QbwcSession as Session

    session = Session.objects.create(tenant=cast.acme, ticket_digest=hashlib.sha256(body.encode()).hexdigest())
    copy_insert_streaming(
        RawResponse(tenant=cast.acme, session=session, request_seq=1, step=Step.BILLS, sha256="0" * 64, body=body),
        text_field="body",
    )
    stored = RawResponse.objects.get(session=session)
    assert (stored.body, stored.request_seq, stored.step, stored.tenant_id) == (body, 1, Step.BILLS, cast.acme.pk)


@pytest.mark.django_db
def test_raw_responses_are_compressed_with_lz4_on_postgresql() -> None:
    """lz4 stores a 500-bill answer in half the time pglz takes (qbwc migration 0005)."""
    if connection.vendor != "postgresql":
        pytest.skip("TOAST compression is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'qbwc_rawresponse'::regclass AND attname = 'body'"
        )
        assert cursor.fetchone() == ("l",)


def _alive_bills(txn_ids: set[str]) -> list[str]:
    """TxnIDs of the parsed bills (QbBill objects) still alive among `txn_ids`."""
    gc.collect()
    return [o.txn_id for o in gc.get_objects() if type(o) is QbBill and o.txn_id in txn_ids]


def test_a_page_holds_two_batches_of_records_at_most(
    qbwc: QbwcHarness, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch is read (on the read-ahead thread) while this one is stored, and no batch
    before those two is alive: when the next batch after batch k is asked for, batch k-1 is
    referenced by nobody (neither the reader, nor the read-ahead, nor the receive loop)."""
    settings.QBWC_MAX_RETURNED = 4 * BATCH_RECORDS
    real = receive.read_ahead
    seen_alive: list[list[str]] = []
    threads: set[str] = set()

    def watched(items: Iterator[tuple[qbxml.Record, ...]]) -> Generator[tuple[qbxml.Record, ...], None, None]:
        def looking_back() -> Iterator[tuple[qbxml.Record, ...]]:
            given: list[set[str]] = []  # TxnIDs of each batch handed on
            while True:
                threads.add(threading.current_thread().name)
                if len(given) >= 2:  # the caller holds the last batch given; the one before is gone
                    seen_alive.append(_alive_bills(given[-2]))
                batch = next(items, None)
                if batch is None:
                    return
                given.append({r.txn_id for r in batch if isinstance(r, QbBill)})
                yield batch
                del batch

        return real(looking_back())

    monkeypatch.setattr(receive, "read_ahead", watched)
    result = qbwc.run(qbwc.company(build(bills=4 * BATCH_RECORDS, vendors=3, changes=False)))
    assert result.outcome == "done", result.last_error
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count() == 4 * BATCH_RECORDS
    assert threads == {"qbwc-read-ahead"}
    # Asked for batches 2, 3 and the end: batches 0, 1 and 2 were gone by then.
    assert seen_alive == [[], [], []], seen_alive


def test_the_generator_drops_a_batch_before_reading_the_next() -> None:
    """qbxml.ResponseReader.batches on its own: when it parses on for the next batch, the batch it
    yielded last (which the caller has let go of) is referenced by nobody."""
    text = (
        FakeCompany(build(bills=300, vendors=2, changes=False))
        .process(qbxml.build_query("bills", request_id="1", version="16.0", since=None, max_returned=300))
        .response
    )
    reader = qbxml.ResponseReader(text, "bills", max_bytes=10_000_000)
    parse = reader._parse_one
    last: set[str] = set()  # TxnIDs of the batch yielded last, until the parse looks back once
    seen_alive: list[list[str]] = []

    def parse_and_look_back(element: Any) -> qbxml.Record:
        if last:
            seen_alive.append(_alive_bills(last))
            last.clear()
        return parse(element)

    reader._parse_one = parse_and_look_back  # type: ignore[method-assign]
    batches = reader.batches(10)
    sizes = []
    while (batch := next(batches, None)) is not None:
        sizes.append(len(batch))
        last.clear()
        last.update(r.txn_id for r in batch if isinstance(r, QbBill))
        del batch
    assert sizes == [10] * 30
    # The page spans several of the reader's feed slices: it parsed on between batches.
    assert len(seen_alive) >= 4 and all(alive == [] for alive in seen_alive), seen_alive
