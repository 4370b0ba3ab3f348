"""Drills 8-11: the QuickBooks side of the sync breaks; Procore still ends up with every record once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import EventCode, PushOp, RecordKind, SyncEvent, SyncRecord
from peers.qbwc_simulator.company import Faults
from qbwc.models import QbwcSession, SessionState
from tests.drills.harness import Drill, dataset, one_job_per_record, settle_with_safety_nets, wait_for


def _terminate_other_backends() -> int:
    """PostgreSQL ends every other backend of this database (a failover or restart, as clients see it).

    Each call waits until its backend has exited (PostgreSQL 14+: pg_terminate_backend's timeout,
    in ms): the signal alone is asynchronous, so a client's health check could still pass on a
    backend about to exit and its next statement fail, a failover clients never see."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return sum(1 for (ok,) in cur.fetchall() if ok)


def test_drill_08_postgresql_connections_dropped_mid_session(drill: Drill, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend); SQLite has no server connection to drop")
    settings.QBWC_MAX_RETURNED = 4
    company = drill.company(dataset())
    killed: list[int] = []

    def drop_connections(method: str, n: int) -> None:
        # Before the 2nd and 4th receiveResponseXML: PostgreSQL ends every other backend
        # of this database (the server thread's kept-alive connection, idle workers).
        if method == "receiveResponseXML" and len(company.requests_seen) in (2, 4):
            killed.append(_terminate_other_backends())

    result = drill.run(company, hook=drop_connections)
    assert len(killed) == 2 and killed[0] >= 1, killed  # the server's own connection was among them
    assert result.progress[-1] == 100
    session = QbwcSession.objects.get(tenant=drill.t.acme)
    assert session.state == SessionState.CLOSED and not session.step_errors
    # A push whose worker lost its connection mid-job may need the periodic safety nets.
    recovered = settle_with_safety_nets(settings)
    drill.check(company)
    interrupted = [e for e in drill.events(drill.t.acme, EventCode.PUSH_FAILED_TRANSIENT) if "worker lost" in e.message]
    assert len(interrupted) == recovered["reaped"]
    one_job_per_record(drill.t.acme, PushOp.BILL_UPSERT)


def test_drill_08_postgresql_connection_dropped_mid_push(drill: Drill, settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend); SQLite has no server connection to drop")
    company = drill.company(dataset(vendors=4, bills=8))
    settings.PROCORE_TIMEOUT_SECONDS = 5
    hang = drill.state.inject("latency", delay=1.5, method="PATCH", path="/direct_costs/line_items/sync$")
    drill.run(company)
    wait_for(lambda: hang.count == 0, message="a bill push waiting on Procore")
    assert _terminate_other_backends() >= 1
    # The worker that lost its connection while Procore was answering cannot always record the
    # outcome (see the report: jobs.push_job_run should reconnect before _finish); the in-flight
    # reaper then hands the job back, and the retry finds the bill in Procore by its origin_id.
    recovered = settle_with_safety_nets(settings)
    drill.check(company)
    interrupted = [e for e in drill.events(drill.t.acme, EventCode.PUSH_FAILED_TRANSIENT) if "worker lost" in e.message]
    assert len(interrupted) == recovered["reaped"]


def test_drill_09_qbwc_session_dropped_halfway_resumes(drill: Drill, settings: Any) -> None:
    settings.QBWC_MAX_RETURNED = 4
    company = drill.company(dataset(), faults=Faults(stop_after_responses=3))  # 2 vendor pages + 1 bill page
    dropped = drill.run(company, expect="dropped")
    assert len(dropped.progress) == 3
    assert SyncRecord.objects.filter(tenant=drill.t.acme, kind=RecordKind.BILL).count() == 4
    drill.run(company, expect="busy")  # the dropped session still looks alive

    # Half an hour later QBWC tries again; the server has given up on the dropped session.
    then = timezone.now() - timedelta(seconds=settings.QBWC_SESSION_TTL_SECONDS + 1)
    QbwcSession.objects.filter(tenant=drill.t.acme).update(last_seen_at=then, started_at=then)
    company.faults = Faults()
    drill.sync(company)
    drill.check(company)
    assert QbwcSession.objects.filter(tenant=drill.t.acme, state=SessionState.EXPIRED).count() == 1
    # The four bills read before the drop were read again, stored once, pushed once.
    one_job_per_record(drill.t.acme, PushOp.BILL_UPSERT)
    received = SyncEvent.objects.filter(tenant=drill.t.acme, code=EventCode.QB_RECEIVED, record__kind=RecordKind.BILL)
    assert received.count() == len(company.data.bills)


def test_drill_10_iterator_expired_restarts_the_step(drill: Drill, settings: Any) -> None:
    settings.QBWC_MAX_RETURNED = 4
    company = drill.company(dataset(), faults=Faults(expire_iterators_after_continues=2))
    result = drill.sync(company)
    starts = [r for r in result.requests if "BillQueryRq" in r and 'iterator="Start"' in r]
    assert len(starts) == 2, "the bill step started over once"
    session = QbwcSession.objects.get(tenant=drill.t.acme)
    assert [e["severity"] for e in session.step_errors] == ["warn"]
    assert "iterator lost" in session.step_errors[0]["text"]
    drill.check(company)
    one_job_per_record(drill.t.acme, PushOp.BILL_UPSERT)
    received = SyncEvent.objects.filter(tenant=drill.t.acme, code=EventCode.QB_RECEIVED, record__kind=RecordKind.BILL)
    assert received.count() == len(company.data.bills)


def test_drill_11_duplicated_receive_response_xml(drill: Drill, settings: Any) -> None:
    settings.QBWC_MAX_RETURNED = 4
    company = drill.company(dataset(), faults=Faults(duplicate_responses=True))
    result = drill.sync(company)
    assert result.calls.count("receiveResponseXML") == 2 * len(result.requests)
    session = QbwcSession.objects.get(tenant=drill.t.acme)
    # One raw response per request that returned records; the two empty deletion answers keep none.
    assert session.responses.count() == len(result.requests) - 2
    assert not session.responses.filter(records=0).exists()
    drill.check(company)
    one_job_per_record(drill.t.acme, PushOp.VENDOR_UPSERT)
    one_job_per_record(drill.t.acme, PushOp.BILL_UPSERT)
    received = SyncEvent.objects.filter(tenant=drill.t.acme, code=EventCode.QB_RECEIVED)
    assert received.count() == len(company.data.bills) + len(company.data.vendors)
