"""Drills 1-5: Procore misbehaves (tokens, rate limits, 5xx, lost answers) during a real sync."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone

from audit.models import EventCode, JobReason, JobState, PushJob, PushOp, RecordState, SyncRecord
from procore_sync.services import push_job_run
from tenants.models import ConnectionStatus, ProcoreConnection
from tests.drills.harness import Drill, background, change, dataset, wait_settled, when
from tests.harness_procore import connect_with_code


def _revoke_access_tokens(state: Any, client_id: str) -> None:
    """Procore revokes the app's access tokens (an admin action, a password reset); refresh tokens stay valid."""
    with state.lock:
        for token in state.access_tokens.values():
            if token["client_id"] == client_id:
                token["revoked"] = True


def test_drill_01_access_token_revoked_mid_run_refreshes_once(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset())
    tokens_before = state.count("POST", "/oauth/token")
    revoked: list[float] = []

    def revoke() -> None:
        _revoke_access_tokens(state, "acme-client")
        revoked.append(time.monotonic())

    # Revoked once the vendors are in, so the bills' batch meets the 401.
    with background(when(lambda: state.count("PATCH", "/vendors/sync") >= 1, revoke)):
        drill.sync(company)
    assert revoked, "the token was revoked while bills were being pushed"
    assert state.count("POST", "/oauth/token") == tokens_before + 1, "exactly one refresh"
    assert any(r.status == 401 for r in state.requests)
    conn = drill.t.connection(acme)
    assert conn.status == ConnectionStatus.CONNECTED
    drill.check(company)
    assert not drill.events(acme, EventCode.RECONNECT_NEEDED)
    assert any(c["status"] == 401 for c in drill.calls_seen(acme)), "the 401 is in the audit trail"


def test_drill_01_revoked_refresh_token_stops_only_that_tenant(drill: Drill) -> None:
    state, acme, globex = drill.state, drill.t.acme, drill.t.globex
    acme_co = drill.company(dataset())
    globex_co = drill.company(dataset(vendors=5, bills=15, seed=11), tenant=globex)
    state.revoke_refresh_token(drill.t.connection(acme).refresh_token)  # the grant is gone: access token too

    drill.run(acme_co)
    drill.run(globex_co, tenant=globex)
    wait_settled()

    conn = drill.t.connection(acme)
    assert conn.status == ConnectionStatus.NEEDS_RECONNECT and "Reconnect needed" in conn.status_detail
    refused = [r for r in state.requests if r.path == "/oauth/token" and r.status == 400]
    assert len(refused) == 1, "one refused refresh, no retry loop against Procore"
    jobs = PushJob.objects.filter(tenant=acme)
    assert set(jobs.values_list("state", flat=True)) == {JobState.WAITING}
    assert set(jobs.values_list("reason", flat=True)) <= {JobReason.NEEDS_RECONNECT, JobReason.NEEDS_VENDOR}
    assert set(SyncRecord.objects.filter(tenant=acme).values_list("state", flat=True)) == {RecordState.WAITING}
    # Each vendor's timeline says why it waits (its bills wait for the vendor).
    for vendor in acme_co.data.vendors:
        assert EventCode.RECONNECT_NEEDED in drill.codes(acme, vendor["ListID"])
    assert all(
        "refresh token is invalid" in e.message or "reconnect" in e.message.lower()
        for e in drill.events(acme, EventCode.RECONNECT_NEEDED)
    )
    assert not drill.documents(acme), "nothing of acme's reached Procore"
    # globex never noticed.
    drill.check(globex_co, tenant=globex)
    assert not drill.events(globex, EventCode.RECONNECT_NEEDED)

    # Someone reconnects acme in the admin: the waiting records go out by themselves, once.
    connect_with_code(acme, drill.emu, "acme-client", "acme-secret")
    wait_settled()
    drill.check(acme_co)


def test_drill_02_refresh_token_rotation_raced_by_two_workers(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset())
    drill.sync(company)

    # Every bill changes; meanwhile the access token ran out (Procore and our clock agree).
    conn = drill.t.connection(acme)
    state.expire_access_token(conn.access_token)
    ProcoreConnection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    tokens_before = state.count("POST", "/oauth/token")
    change(
        company,
        edit_bills=[
            {"TxnID": b["TxnID"], "line_amount": f"{200 + i}.{i:02d}"} for i, b in enumerate(company.data.bills)
        ],
    )
    ran: list[str] = []

    def second_worker(stop: threading.Event) -> None:
        # Another worker (process) draining the same outbox: it claims due jobs directly.
        while not stop.is_set():
            due = PushJob.objects.filter(state=JobState.PENDING, not_before__lte=timezone.now()).values_list(
                "pk", flat=True
            )
            for job_id in list(due[:4]):
                ran.append(push_job_run(job_id=job_id))
            time.sleep(0.005)

    with background(second_worker):
        drill.sync(company)
    assert state.count("POST", "/oauth/token") == tokens_before + 1, "the refresh token was spent once"
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.CONNECTED
    assert not drill.events(acme, EventCode.RECONNECT_NEEDED)
    assert not [r for r in state.requests if r.path == "/oauth/token" and r.status != 200]
    drill.check(company)


def test_drill_03_429_storm(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    state.set_rate_limits([(20, 1.0)])
    # The client paces on the rate headers, so the neighbour alone may never make Procore say 429
    # (correct behaviour, but then this drill would not exercise the 429 path): the first
    # writes are answered 429 with Retry-After whatever the headers said.
    state.inject("status", status=429, method="PATCH", count=3, retry_after=0.3)
    company = drill.company(dataset())

    def noisy_neighbour(stop: threading.Event) -> None:
        # Another integration on the same Procore app spends the quota for 2 s.
        deadline = time.monotonic() + 2
        while not stop.is_set() and time.monotonic() < deadline:
            state.spend("acme-client")
            time.sleep(0.02)

    with background(noisy_neighbour):
        drill.sync(company, timeout=90)
    assert sum(1 for r in state.requests if r.status == 429) >= 1
    drill.check(company)
    done = PushJob.objects.filter(tenant=acme, state=JobState.DONE)
    assert set(done.values_list("attempts", flat=True)) == {1}, "waiting out a 429 spends no attempt"
    assert any(c["status"] == 429 for c in drill.calls_seen(acme)), "the 429s are in the audit trail"


def test_drill_04_500_502_503_bursts(drill: Drill, settings: Any) -> None:
    state, acme = drill.state, drill.t.acme
    settings.PROCORE_MAX_ATTEMPTS = 3  # so a burst outlasts one call's retries and the job retries
    company = drill.company(dataset())
    state.inject("status", status=502, count=4)
    state.inject("status", status=503, count=4, retry_after=0.1)
    state.inject("status", status=500, count=12, method="PATCH", path="/direct_costs/sync$")
    drill.sync(company, timeout=90)
    assert not [f for f in state.faults if f.count > 0], "every fault fired"
    assert sum(1 for r in state.requests if r.status >= 500) == 20
    drill.check(company)
    transient = drill.events(acme, EventCode.PUSH_FAILED_TRANSIENT)
    assert transient and all("retrying" in e.message for e in transient)
    retried = {e.record_id for e in transient}
    assert all(
        EventCode.PUSH_SUCCEEDED in drill.codes(acme, r.qb_id) for r in SyncRecord.objects.filter(pk__in=retried)
    )


def test_drill_05_timeout_after_procore_committed_the_write(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset())
    # Procore does the work, then the answer never arrives.
    state.inject("drop", method="PATCH", path="/vendors/sync")
    state.inject("drop", method="PATCH", path="/direct_costs/sync$")
    state.inject("drop", method="PATCH", path="/direct_costs/line_items/sync$")
    state.inject("drop", method="POST", path="/actions/add")
    drill.sync(company)
    first = company.data.bills[0]["TxnID"]
    state.inject("drop", method="PATCH", path=r"/direct_costs/line_items/sync$")
    change(company, edit_bills=[{"TxnID": first, "line_amount": "4321.09"}])
    drill.sync(company)
    assert not [f for f in state.faults if f.count > 0], "every fault fired"
    drill.check(company)
    lost = [c for c in drill.calls_seen(acme) if c["status"] is None]
    assert lost, "the lost answers are in the audit trail"
    one_each = PushJob.objects.filter(tenant=acme, op=PushOp.BILL_UPSERT).exclude(state=JobState.DONE)
    assert not one_each.exists()
