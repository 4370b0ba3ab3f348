from __future__ import annotations

from decimal import Decimal

from audit.models import EventCode, PushJob, PushOp, RecordKind, SyncEvent, SyncRecord
from audit.qbtypes import bill_from_json, vendor_from_json
from peers.qbwc_simulator.dataset import load
from qbwc.models import QbwcSession, RawResponse, SessionState, Watermark
from tests.harness_qbwc import QbwcHarness


def test_a_first_run_reads_every_vendor_and_bill_and_queues_them(qbwc: QbwcHarness) -> None:
    company = qbwc.company(load())  # the shipped sample: 30 vendors, 200 bills
    result = qbwc.run(company)

    assert result.outcome == "done", result.last_error
    assert result.progress[-1] == 100
    assert result.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
    assert result.calls[-1] == "closeConnection"
    assert company.requests_seen == ["VendorQueryRq", "BillQueryRq", "TxnDeletedQueryRq", "ListDeletedQueryRq"]
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.VENDOR).count() == 30
    assert SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count() == 200
    assert SyncEvent.objects.filter(tenant=qbwc.tenant, code=EventCode.QB_RECEIVED).count() == 230
    assert PushJob.objects.filter(tenant=qbwc.tenant, op=PushOp.VENDOR_UPSERT).count() == 30
    assert PushJob.objects.filter(tenant=qbwc.tenant, op=PushOp.BILL_UPSERT).count() == 200

    session = QbwcSession.objects.get(tenant=qbwc.tenant)
    assert session.state == SessionState.CLOSED
    assert session.company_name == "Keystone & Sons Construction, LLC"
    assert session.qbxml_version == "16.0"
    assert (session.vendors_received, session.bills_received, session.deletions_received) == (30, 200, 0)
    assert result.close_message.startswith("30 vendors, 200 bills, 0 deletions received")
    # The two deletion queries found nothing (status 1): no raw response is kept for those.
    assert sorted(RawResponse.objects.filter(session=session).values_list("step", flat=True)) == ["bills", "vendors"]
    assert set(Watermark.objects.filter(tenant=qbwc.tenant).values_list("query", flat=True)) == {
        "vendors",
        "bills",
        "bill_deletions",
        "vendor_deletions",
    }


def test_names_money_and_offsets_survive_the_trip(qbwc: QbwcHarness) -> None:
    data = load()
    company = qbwc.company(data)
    assert qbwc.run(company).outcome == "done"

    for raw in data.vendors:
        record = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.VENDOR, qb_id=raw["ListID"])
        vendor = vendor_from_json(record.payload)
        assert vendor.name == raw["Name"]  # &, quotes, <, non-ASCII intact
        assert vendor.time_modified is not None
        assert vendor.time_modified.isoformat() == raw["TimeModified"]  # offset kept
    for raw in data.bills:
        record = SyncRecord.objects.get(tenant=qbwc.tenant, kind=RecordKind.BILL, qb_id=raw["TxnID"])
        bill = bill_from_json(record.payload)
        assert bill.amount_due == Decimal(raw["AmountDue"])
        assert record.amount == Decimal(raw["AmountDue"])
        assert sum(line.amount for line in bill.lines) == bill.amount_due
        assert len(bill.lines) == len(raw["ExpenseLineRet"]) + len(raw["ItemLineRet"])
        assert all(line.customer_full_name for line in bill.lines)
        assert bill.vendor_name == raw["VendorRef"]["FullName"]


def test_another_tenant_gets_nothing_from_this_run(qbwc: QbwcHarness) -> None:
    from tests.factories import make_tenant

    globex = make_tenant(slug="globex")
    assert qbwc.run(qbwc.company()).outcome == "done"
    assert not SyncRecord.objects.filter(tenant=globex).exists()
    assert not QbwcSession.objects.filter(tenant=globex).exists()
