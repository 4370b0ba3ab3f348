from __future__ import annotations

import pytest
from django.conf import settings

from audit.models import EventCode, PushJob, PushOp, RecordKind, SyncEvent, SyncRecord
from peers.qbwc_simulator.company import Faults
from peers.qbwc_simulator.dataset import Dataset, build
from qbwc.models import QbwcSession, SessionState, Watermark
from tests.harness_qbwc import QbwcHarness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big() -> Dataset:
    return build(bills=2000, vendors=30, changes=False)


def _bills(qbwc: QbwcHarness) -> int:
    return SyncRecord.objects.filter(tenant=qbwc.tenant, kind=RecordKind.BILL).count()


def _exactly_once(qbwc: QbwcHarness, n: int) -> None:
    assert _bills(qbwc) == n
    assert (
        SyncEvent.objects.filter(tenant=qbwc.tenant, code=EventCode.QB_RECEIVED, record__kind=RecordKind.BILL).count()
        == n
    )
    assert PushJob.objects.filter(tenant=qbwc.tenant, op=PushOp.BILL_UPSERT).count() == n


def test_two_thousand_bills_come_in_several_iterator_pages(qbwc: QbwcHarness, big: Dataset) -> None:
    company = qbwc.company(big)
    result = qbwc.run(company)

    assert result.outcome == "done", result.last_error
    bill_requests = [r for r in result.requests if "BillQueryRq" in r]
    assert len(bill_requests) == 2000 // settings.QBWC_MAX_RETURNED  # Start + Continues
    assert 'iterator="Start"' in bill_requests[0]
    assert all('iterator="Continue"' in r and "iteratorID=" in r for r in bill_requests[1:])
    assert result.progress == sorted(result.progress)  # progress only moves forward
    assert len(set(result.progress)) == len(result.progress)
    _exactly_once(qbwc, 2000)


def test_a_run_dropped_halfway_resumes_without_losing_or_duplicating(qbwc: QbwcHarness, big: Dataset) -> None:
    company = qbwc.company(big, Faults(stop_after_responses=3))  # vendors, bills page 1, page 2
    dropped = qbwc.run(company)
    assert dropped.outcome == "dropped"
    assert _bills(qbwc) == 2 * settings.QBWC_MAX_RETURNED
    assert not Watermark.objects.filter(tenant=qbwc.tenant, query="bills").exists()
    assert Watermark.objects.filter(tenant=qbwc.tenant, query="vendors").exists()

    # While the dropped session still looks alive, a new run is told the server is busy.
    assert qbwc.run(company).outcome == "busy"

    qbwc.age_sessions(settings.QBWC_SESSION_TTL_SECONDS + 1)
    company.faults = Faults()
    resumed = qbwc.run(company)

    assert resumed.outcome == "done", resumed.last_error
    assert QbwcSession.objects.filter(tenant=qbwc.tenant, state=SessionState.EXPIRED).count() == 1
    _exactly_once(qbwc, 2000)
    session = QbwcSession.objects.filter(tenant=qbwc.tenant).order_by("-started_at").first()
    assert session is not None
    assert session.bills_received == 2000  # re-read in full: no bills mark yet
    assert session.records_changed == 2000 - 2 * settings.QBWC_MAX_RETURNED


def test_an_expired_iterator_restarts_its_step(qbwc: QbwcHarness, big: Dataset) -> None:
    company = qbwc.company(big, Faults(expire_iterators_after_continues=2))
    result = qbwc.run(company)

    assert result.outcome == "done", result.last_error
    _exactly_once(qbwc, 2000)
    session = QbwcSession.objects.get(tenant=qbwc.tenant)
    assert [e["severity"] for e in session.step_errors] == ["warn"]
    assert "iterator lost" in session.step_errors[0]["text"]
    starts = [r for r in result.requests if "BillQueryRq" in r and 'iterator="Start"' in r]
    assert len(starts) == 2


def test_a_retried_receive_response_stores_nothing_twice(qbwc: QbwcHarness, big: Dataset) -> None:
    result = qbwc.run(qbwc.company(big, Faults(duplicate_responses=True)))
    assert result.outcome == "done", result.last_error
    assert result.calls.count("receiveResponseXML") == 2 * len(result.requests)
    _exactly_once(qbwc, 2000)
    session = QbwcSession.objects.get(tenant=qbwc.tenant)
    # One raw response per request that returned something; the two empty deletion answers keep none.
    assert session.responses.count() == len(result.requests) - 2
    assert session.responses.filter(records=0).count() == 0
