from __future__ import annotations

from datetime import datetime

from audit.models import EventCode, JobState, PushJob, PushOp, RecordKind, SyncEvent, SyncRecord
from audit.qbtypes import bill_from_json, vendor_from_json
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import load
from qbwc.login import session_authenticate
from qbwc.models import PLAN, QbwcSession, RawResponse, Watermark
from qbwc.receive import session_receive_response
from qbwc.send import session_send_request
from tenants.models import Tenant
from tests.factories import PASSWORD
from tests.harness_qbwc import QbwcHarness


def _snapshot(tenant: Tenant) -> tuple[int, int, list[tuple[int, str, datetime]]]:
    jobs = list(PushJob.objects.filter(tenant=tenant).order_by("pk").values_list("pk", "state", "updated_at"))
    return (
        SyncRecord.objects.filter(tenant=tenant).count(),
        SyncEvent.objects.filter(tenant=tenant).count(),
        jobs,
    )


def test_an_incremental_run_reads_only_edits_additions_and_deletions(qbwc: QbwcHarness) -> None:
    data = load()
    company = qbwc.company(data)
    assert qbwc.run(company).outcome == "done"
    first_bill = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.BILL, qb_id=data.bills[0]["TxnID"])
    old_sequence = first_bill.edit_sequence

    assert company.apply_next_changes()
    result = qbwc.run(company)

    assert result.outcome == "done", result.last_error
    session = QbwcSession.objects.filter(tenant=qbwc.tenant).order_by("-started_at").first()
    assert session is not None
    # 2 edited vendors + 1 new; 3 edited bills + 1 new; 2 deleted bills + 1 deleted vendor.
    assert (session.vendors_received, session.bills_received, session.deletions_received) == (3, 4, 3)
    assert session.records_changed == 10
    assert result.close_message.startswith("3 vendors, 4 bills, 3 deletions received")

    first_bill.refresh_from_db()
    assert first_bill.edit_sequence != old_sequence
    assert first_bill.amount == bill_from_json(first_bill.payload).amount_due
    assert bill_from_json(first_bill.payload).memo == "Revised: retainage released"
    renamed = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.VENDOR, qb_id=data.vendors[2]["ListID"])
    assert vendor_from_json(renamed.payload).name == "Müller & Söhne Concrete"
    assert SyncEvent.objects.filter(record=first_bill, code=EventCode.QB_RECEIVED).count() == 2

    for txn_id in (data.bills[3]["TxnID"], data.bills[7]["TxnID"]):
        deleted = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.BILL, qb_id=txn_id)
        assert deleted.deleted_in_qb
        assert PushJob.objects.filter(record=deleted, op=PushOp.BILL_DELETE, state=JobState.PENDING).count() == 1
        # The never-pushed create is superseded by the delete.
        assert PushJob.objects.get(record=deleted, op=PushOp.BILL_UPSERT).state == JobState.CANCELLED
    gone = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.VENDOR, qb_id=data.vendors[-1]["ListID"])
    assert gone.deleted_in_qb
    assert PushJob.objects.filter(record=gone, op=PushOp.VENDOR_DEACTIVATE).count() == 1
    # Edited records re-arm their queued job instead of queueing a second one.
    assert PushJob.objects.filter(record=first_bill).count() == 1
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count() == 201

    # Third run: a bill marked paid, a vendor made inactive (ActiveStatus All sees it), a deletion.
    assert company.apply_next_changes()
    assert qbwc.run(company).outcome == "done"
    inactive = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.VENDOR, qb_id=data.vendors[3]["ListID"])
    assert vendor_from_json(inactive.payload).is_active is False
    paid = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.BILL, qb_id=data.bills[11]["TxnID"])
    assert bill_from_json(paid.payload).is_paid is True
    assert SyncRecord.objects.get(tenant=qbwc.tenant, qb_id=data.bills[2]["TxnID"]).deleted_in_qb


def test_a_run_with_nothing_changed_stores_and_queues_nothing(qbwc: QbwcHarness) -> None:
    company = qbwc.company(load())
    assert qbwc.run(company).outcome == "done"
    before = _snapshot(qbwc.tenant)

    result = qbwc.run(company)

    assert result.outcome == "done"
    assert len(result.requests) == 4  # the short plan: one query per step
    session = QbwcSession.objects.filter(tenant=qbwc.tenant).order_by("-started_at").first()
    assert session is not None
    # Four empty status-1 answers: nothing to keep, not even the raw response; every mark moved.
    assert not RawResponse.objects.filter(session=session).exists()
    assert set(Watermark.objects.filter(tenant=qbwc.tenant, session=session).values_list("query", flat=True)) == set(
        PLAN
    )
    assert session.records_changed == 0
    assert result.close_message == "0 vendors, 0 bills, 0 deletions received"
    assert _snapshot(qbwc.tenant) == before


def test_the_next_run_starts_a_safety_window_before_the_mark(qbwc: QbwcHarness) -> None:
    from datetime import timedelta

    from django.conf import settings

    from qbwc.models import Watermark

    company = qbwc.company()
    assert qbwc.run(company).outcome == "done"
    mark = Watermark.objects.get(tenant=qbwc.tenant, query="bills")
    second = qbwc.run(company)
    bill_query = next(r for r in second.requests if "BillQueryRq" in r)
    sent = datetime.fromisoformat(bill_query.split("<FromModifiedDate>")[1].split("<")[0])
    window = timedelta(minutes=settings.QBWC_SAFETY_WINDOW_MINUTES)
    assert abs(sent - (mark.mark - window)) < timedelta(seconds=1)
    # Sent in the offset QuickBooks' own timestamps carry, so either reading of it is right.
    assert mark.qb_utc_offset_minutes in (-300, -240)
    assert sent.utcoffset() == timedelta(minutes=mark.qb_utc_offset_minutes)
    # The deletion steps returned nothing on the first run; they borrow the file's offset.
    assert not Watermark.objects.get(tenant=qbwc.tenant, query="bill_deletions").qb_utc_offset_minutes
    deleted_query = next(r for r in second.requests if "TxnDeletedQueryRq" in r)
    since = datetime.fromisoformat(deleted_query.split("<FromDeletedDate>")[1].split("<")[0])
    assert since.utcoffset() == timedelta(minutes=mark.qb_utc_offset_minutes)


def test_a_first_run_has_no_date_filters(qbwc: QbwcHarness) -> None:
    result = qbwc.run(qbwc.company())
    assert result.outcome == "done"
    assert not any("FromModifiedDate" in r or "FromDeletedDate" in r for r in result.requests)


def test_a_session_opened_before_the_marks_snapshot_reads_the_marks_when_it_builds(qbwc: QbwcHarness) -> None:
    """A run in flight across the migration that added QbwcSession.marks keeps its date filters."""
    company = qbwc.company(load())
    assert qbwc.run(company).outcome == "done"
    ticket = session_authenticate(username=qbwc.tenant.qbwc_username, password=PASSWORD)[0]
    first = session_send_request(ticket=ticket, hcp_response="", company_file="", major="16", minor="0")
    QbwcSession.objects.filter(state="open").update(marks={})  # as a pre-migration row has it
    answer = FakeCompany(load()).process(first)
    assert session_receive_response(ticket=ticket, response=answer.response.encode(), hresult="", message="") > 0
    bills = session_send_request(ticket=ticket, hcp_response="", company_file="", major="16", minor="0")
    assert "<BillQueryRq" in bills and "<FromModifiedDate>" in bills
