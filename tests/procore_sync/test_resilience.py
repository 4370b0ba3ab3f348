"""Faults over real HTTP: token expiry, refresh races, 429 storms, 5xx bursts, lost answers, revocation.

Every scenario ends with each QuickBooks record in Procore exactly once.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncEvent, SyncRecord
from audit.services import record_receive
from procore_sync.models import CostCodeMapping
from procore_sync.services import in_flight_reap, outbox_sweep
from procore_sync.tokens import token_refresh
from tenants.models import ConnectionStatus, ProcoreConnection, Tenant
from tests.harness_procore import Tenants, connect_with_code, qb_bill, qb_vendor, wait_for, wait_settled


def push_batch(
    tenant: Tenant, prefix: str, vendors: int, bills_per_vendor: int, cost_code: str = "01-100"
) -> dict[str, Decimal]:
    """Vendors with no commitment (→ direct costs) and their bills. Returns TxnID → amount."""
    amounts: dict[str, Decimal] = {}
    for v in range(vendors):
        vendor = qb_vendor(f"{prefix}-V{v}", f"{prefix} Vendor {v}")
        CostCodeMapping.objects.get_or_create(
            tenant=tenant, vendor_list_id=vendor.list_id, defaults={"cost_code": cost_code}
        )
        record_receive(tenant=tenant, obj=vendor, session_id=None)
        for b in range(bills_per_vendor):
            txn = f"{prefix}-B{v}-{b}"
            amount = Decimal(f"{100 + v * 10 + b}.{(v * 7 + b) % 100:02d}")
            record_receive(tenant=tenant, obj=qb_bill(txn, vendor, [(str(amount), "")]), session_id=None)
            amounts[txn] = amount
    return amounts


def assert_exactly_once(t: Tenants, amounts: dict[str, Decimal], vendor_prefix: str) -> None:
    state = t.emu.state
    for txn, amount in amounts.items():
        found = state.direct_costs_by_origin(txn)
        assert len(found) == 1, f"{txn}: {len(found)} direct costs"
        assert [li["amount"] for li in found[0]["line_items"]] == [amount], txn
    origins = [v["origin_id"] for v in state.vendors.values() if str(v["origin_id"]).startswith(vendor_prefix)]
    assert len(origins) == len(set(origins)), "duplicate vendors"
    records = SyncRecord.objects.filter(qb_id__startswith=vendor_prefix)
    assert set(records.values_list("state", flat=True)) == {RecordState.SYNCED}


def test_token_expiry_mid_run_refreshes_once_and_finishes(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    first = push_batch(t.acme, "EXP1", 2, 2)
    wait_settled()
    conn = t.connection(t.acme)
    old_refresh = conn.refresh_token
    state.expire_access_token(conn.access_token)  # Procore ends the token early: a 401 mid-run
    tokens_before = state.count("POST", "/oauth/token")
    second = push_batch(t.acme, "EXP2", 2, 2)
    wait_settled()
    assert state.count("POST", "/oauth/token") == tokens_before + 1
    assert any(r.status == 401 for r in state.requests)
    conn.refresh_from_db()
    assert conn.refresh_token != old_refresh and conn.status == ConnectionStatus.CONNECTED

    # Proactive: with less than 10 minutes left the client refreshes before calling, no 401.
    ProcoreConnection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() + timedelta(minutes=5))
    before = len(state.requests)
    third = push_batch(t.acme, "EXP3", 1, 2)
    wait_settled()
    assert state.count("POST", "/oauth/token") == tokens_before + 2
    assert not [r for r in state.requests[before:] if r.status == 401]
    for prefix, amounts in (("EXP1", first), ("EXP2", second), ("EXP3", third)):
        assert_exactly_once(t, amounts, prefix)


def test_two_workers_racing_to_refresh_spend_the_refresh_token_once(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    conn = t.connection(t.acme)
    stale = conn.access_token
    state.expire_access_token(stale)
    tokens_before = state.count("POST", "/oauth/token")
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def refresh() -> None:
        from django.db import connection

        try:
            barrier.wait()
            results.append(token_refresh(connection_id=conn.pk, stale_access_token=stale).access_token)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(set(results)) == 1 and results[0] != stale
    assert state.count("POST", "/oauth/token") == tokens_before + 1

    # The same through the worker pool: 4 threads find the stored token expired at once.
    ProcoreConnection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    amounts = push_batch(t.acme, "RACE", 4, 3)
    wait_settled()
    assert state.count("POST", "/oauth/token") == tokens_before + 2
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.CONNECTED
    assert_exactly_once(t, amounts, "RACE")


def test_a_429_storm_is_waited_out_without_spending_attempts(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    state.set_rate_limits([(8, 1.0)])
    # The client paces on the rate headers and can dodge every 429 the neighbour alone causes:
    # the first writes are answered 429 with Retry-After, so the 429 path is always exercised.
    state.inject("status", status=429, method="PATCH", count=3, retry_after=0.3)
    stop = threading.Event()

    def noisy_neighbour() -> None:  # another integration on the same app spends the quota for 2 s
        deadline = time.monotonic() + 2
        while not stop.is_set() and time.monotonic() < deadline:
            state.spend("acme-client")
            time.sleep(0.01)  # 100/s against a limit of 8/s: every window is gone within 80 ms

    neighbour = threading.Thread(target=noisy_neighbour, daemon=True)
    neighbour.start()
    try:
        amounts = push_batch(t.acme, "STORM", 2, 3)
        wait_settled(timeout=90)
    finally:
        stop.set()
        neighbour.join()
    assert state.count(None) and any(r.status == 429 for r in state.requests)
    assert_exactly_once(t, amounts, "STORM")
    assert set(PushJob.objects.filter(record__qb_id__startswith="STORM").values_list("attempts", flat=True)) == {1}


def test_a_5xx_burst_ends_with_every_record_once(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    state.inject("status", status=500, count=25)
    state.inject("status", status=503, count=5, retry_after=0.1)
    amounts = push_batch(t.acme, "BURST", 3, 3)
    wait_settled(timeout=90)
    assert sum(1 for r in state.requests if r.status >= 500) == 30
    assert_exactly_once(t, amounts, "BURST")
    assert SyncEvent.objects.filter(code=EventCode.PUSH_FAILED_TRANSIENT).exists()


def test_lost_answers_after_commit_never_duplicate(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state, ids = acme_globex, acme_globex.emu.state, acme_globex.emu.ids
    state.inject("drop", method="PATCH", path="/vendors/sync")
    state.inject("drop", method="PATCH", path="/direct_costs/sync")
    state.inject("drop", method="PATCH", path="/direct_costs/line_items/sync")
    state.inject("drop", method="POST", path="/requisitions$")
    state.inject("drop", method="POST", path="/actions/add")
    amounts = push_batch(t.acme, "LOST", 2, 2)
    apex = qb_vendor("V-APEX", "Apex Concrete")
    CostCodeMapping.objects.create(
        tenant=t.acme, vendor_list_id="V-APEX", project_id=ids["project:Harbor Bridge"], cost_code="03-300"
    )
    record_receive(tenant=t.acme, obj=apex, session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("LOST-R1", apex, [("321.09", "")]), session_id=None)
    wait_settled(timeout=60)
    assert not [f for f in state.faults if f.count > 0], "every fault fired"
    assert_exactly_once(t, amounts, "LOST")
    [req] = state.requisitions_by_origin("LOST-R1")
    assert sum(i["work_completed_this_period"] for i in req["items"]) == Decimal("321.09")
    assert len(state.vendors_by_origin("V-APEX")) == 1


def test_a_revoked_refresh_token_stops_that_tenant_and_not_the_other(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    acme_conn = t.connection(t.acme)
    state.revoke_refresh_token(acme_conn.refresh_token)  # revoked in Procore: access token too
    acme_amounts = push_batch(t.acme, "REV", 2, 2)
    globex_amounts = push_batch(t.globex, "GLX", 2, 2, cost_code="22-000")
    wait_settled()

    acme_conn.refresh_from_db()
    assert acme_conn.status == ConnectionStatus.NEEDS_RECONNECT
    assert "Reconnect needed" in acme_conn.status_detail
    jobs = PushJob.objects.filter(tenant=t.acme)
    # Vendors wait for the reconnect; their bills wait for the vendors (or the reconnect).
    assert set(jobs.filter(op="vendor_upsert").values_list("state", "reason")) == {
        (JobState.WAITING, JobReason.NEEDS_RECONNECT)
    }
    assert set(jobs.values_list("state", flat=True)) == {JobState.WAITING}
    assert set(jobs.values_list("reason", flat=True)) <= {JobReason.NEEDS_RECONNECT, JobReason.NEEDS_VENDOR}
    assert set(SyncRecord.objects.filter(tenant=t.acme).values_list("state", flat=True)) == {RecordState.WAITING}
    assert SyncEvent.objects.filter(tenant=t.acme, code=EventCode.RECONNECT_NEEDED).exists()
    # Exactly one refused refresh; no loop of retries against Procore.
    refused = [r for r in state.requests if r.path == "/oauth/token" and r.status == 400]
    assert len(refused) == 1
    assert_exactly_once(t, globex_amounts, "GLX")

    # A person reconnects: the waiting jobs go out by themselves, once.
    connect_with_code(t.acme, t.emu, "acme-client", "acme-secret")
    wait_settled()
    assert_exactly_once(t, acme_amounts, "REV")


def test_a_lost_refresh_answer_is_reported_as_reconnect_needed(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    conn = t.connection(t.acme)
    ProcoreConnection.objects.filter(pk=conn.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    state.inject("drop", method="POST", path="/oauth/token")  # Procore rotated the token; we never heard
    push_batch(t.acme, "LR", 1, 1)
    wait_for(
        lambda: ProcoreConnection.objects.get(pk=conn.pk).status == ConnectionStatus.NEEDS_RECONNECT,
        message="the connection to need a reconnect",
    )
    wait_settled()
    jobs = PushJob.objects.filter(tenant=t.acme)
    assert set(jobs.filter(op="vendor_upsert").values_list("reason", flat=True)) == {JobReason.NEEDS_RECONNECT}
    assert set(jobs.values_list("state", flat=True)) == {JobState.WAITING}


def test_the_sweep_resends_lost_messages_and_the_reaper_frees_stuck_jobs(
    acme_globex: Tenants, celery_worker: Any, settings: Any
) -> None:
    t, state = acme_globex, acme_globex.emu.state
    settings.PROCORE_IN_FLIGHT_TIMEOUT_SECONDS = 60
    # The broker "loses" the first triggers: nothing runs until the sweep.
    import audit.outbox as outbox

    sent = outbox.outbox_trigger
    outbox.outbox_trigger = lambda *, job_id, countdown=0: None  # type: ignore[assignment,misc]
    try:
        amounts = push_batch(t.acme, "SWP", 1, 1)
    finally:
        outbox.outbox_trigger = sent
    # Every job is in the outbox, due, and none ran: the database holds the work, not the broker.
    assert set(PushJob.objects.filter(tenant=t.acme).values_list("state", "attempts")) == {(JobState.PENDING, 0)}
    old = timezone.now() - timedelta(minutes=5)
    PushJob.objects.filter(tenant=t.acme).update(not_before=old)
    # One job looks stuck in flight since long ago (its worker died).
    stuck = PushJob.objects.get(record__qb_id="SWP-B0-0")
    PushJob.objects.filter(pk=stuck.pk).update(state=JobState.IN_FLIGHT, in_flight_since=old)
    assert outbox_sweep()["resent"] == 1
    # The tenant's lane is held by the job "in flight" (one job of a tenant at a time)...
    time.sleep(0.3)
    assert not state.vendors_by_origin("SWP-V0")
    # ...until the reaper frees it; then the swept job and the freed one both go out, once.
    assert in_flight_reap() == 1
    wait_for(lambda: bool(state.vendors_by_origin("SWP-V0")), message="the swept vendor job")
    wait_settled()
    assert_exactly_once(t, amounts, "SWP")
