"""Fair, bounded work per tenant, and batches that fail item by item (real worker, emulator over HTTP).

A broken tenant (revoked grant, used-up rate window, Procore refusing its records) costs one
attempt per job at most and holds no worker: the healthy tenant's records land with the same
Procore calls as when it is alone. Counts and calls are compared, never timings.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from audit.models import JobReason, JobState, PushJob, RecordState, SyncRecord
from audit.services import record_receive, record_replay
from procore_sync.models import ConnectionRate
from tenants.models import ConnectionStatus
from tests.harness_procore import Tenants, qb_bill, qb_vendor, wait_quiet, wait_settled


def push_globex(t: Tenants, prefix: str, n: int) -> None:
    """One Web Connector response of globex's: a vendor edit and n new bills, due together."""
    plumber = qb_vendor("G-PLUMB", "Globex Plumbing", seq=prefix)
    with transaction.atomic():
        record_receive(tenant=t.globex, obj=plumber, session_id=None)
        for i in range(n):
            record_receive(
                tenant=t.globex, obj=qb_bill(f"{prefix}-{i}", plumber, [(f"{10 + i}.25", "")]), session_id=None
            )


def calls_of(t: Tenants, client_id: str, since: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in t.emu.state.requests[since:] if r.client_id == client_id]


def break_acme(t: Tenants, how: str) -> None:
    state = t.emu.state
    conn = t.connection(t.acme)
    if how == "revoked":
        state.revoke_refresh_token(conn.refresh_token)  # the grant is gone in Procore, access token too
    elif how == "exhausted":
        # Another integration on acme's Procore app used the hour up: the window says so.
        ConnectionRate.objects.update_or_create(
            connection=conn, defaults={"limit": 3600, "remaining": 0, "reset_at": time.time() + 3600}
        )
    for i in range(4):
        # "permanent": a vendor with no name is refused by Procore (422 in the sync answer).
        vendor = qb_vendor(f"V-BAD{i}", " " if how == "permanent" else f"Bad Vendor {i}")
        record_receive(tenant=t.acme, obj=vendor, session_id=None)
        record_receive(tenant=t.acme, obj=qb_bill(f"BAD-{i}", vendor, [("99.00", "")]), session_id=None)


@pytest.mark.parametrize("how", ["revoked", "exhausted", "permanent"])
def test_a_broken_tenant_never_slows_the_healthy_one(acme_globex: Tenants, celery_worker: Any, how: str) -> None:
    t, state = acme_globex, acme_globex.emu.state
    # Alone: globex's first load (catalog read included), then a second batch of the same size.
    push_globex(t, "A", 6)
    wait_settled()
    before = len(state.requests)
    push_globex(t, "B", 6)
    wait_settled()
    alone = calls_of(t, "globex-client", before)

    before = len(state.requests)
    acme_calls_before = len(calls_of(t, "acme-client", 0))
    break_acme(t, how)
    push_globex(t, "C", 6)
    wait_quiet()
    beside = calls_of(t, "globex-client", before)

    # The healthy tenant: every record synced, one attempt each, the same calls as alone.
    # (On failure the message lists globex's jobs: state, reason, attempts, due time, error.)
    globex_jobs = PushJob.objects.filter(tenant=t.globex)
    fields = ("pk", "op", "state", "reason", "attempts", "not_before", "last_error")
    jobs_seen = f"{list(globex_jobs.values_list(*fields))} at {time.time()}"
    assert set(SyncRecord.objects.filter(tenant=t.globex).values_list("state", flat=True)) == {RecordState.SYNCED}, (
        jobs_seen
    )
    assert set(globex_jobs.values_list("attempts", flat=True)) == {1}, jobs_seen
    # The same calls as alone: the vendor edit and one or two bill batches (how the worker's
    # triggers fall can split a batch, alone or not), never a retry or a wait caused by acme.
    assert set(beside) == set(alone) and len(beside) <= 5 and len(alone) <= 5, (alone, beside)
    assert not PushJob.objects.filter(tenant=t.globex).exclude(reason="").exists()
    assert len([d for d in state.direct_costs.values() if str(d.get("origin_id", "")).startswith("C-")]) == 6

    # The broken one: bounded, visible, no retry loop.
    acme_jobs = PushJob.objects.filter(tenant=t.acme)
    assert all(j.attempts <= 1 for j in acme_jobs)
    acme_calls = calls_of(t, "acme-client", 0)[acme_calls_before:]
    if how == "revoked":
        # The first call meets the revoked token, the one refresh is refused, then nothing more.
        assert acme_calls == [("PATCH", "/rest/v1.0/vendors/sync")]
        assert len([r for r in state.requests if r.path == "/oauth/token" and r.status == 400]) == 1
        assert t.connection(t.acme).status == ConnectionStatus.NEEDS_RECONNECT
        assert set(acme_jobs.values_list("reason", flat=True)) <= {JobReason.NEEDS_RECONNECT, JobReason.NEEDS_VENDOR}
    elif how == "exhausted":
        assert acme_calls == []  # the used-up window is known: nothing is sent, the jobs come back later
        vendors = acme_jobs.filter(op="vendor_upsert")
        assert set(vendors.values_list("state", flat=True)) == {JobState.PENDING}
        assert all(j.not_before.timestamp() > time.time() + 3000 for j in vendors)  # back when the window resets
        assert set(acme_jobs.filter(op="bill_upsert").values_list("reason", flat=True)) == {JobReason.NEEDS_VENDOR}
    else:
        # Sync calls only (the four vendors in one or two batches, as they arrived), refused item by item.
        # How the worker's triggers fall can split the four vendors into up to four batches; each vendor is
        # sent once (attempts <= 1 above), never again.
        assert acme_calls and set(acme_calls) == {("PATCH", "/rest/v1.0/vendors/sync")} and len(acme_calls) <= 4
        vendors = acme_jobs.filter(op="vendor_upsert")
        assert set(vendors.values_list("state", "reason")) == {(JobState.FAILED, JobReason.PERMANENT)}
        record = SyncRecord.objects.get(tenant=t.acme, qb_id="V-BAD0")
        assert record.state == RecordState.FAILED and "name can't be blank" in record.state_reason
    assert t.connection(t.globex).status == ConnectionStatus.CONNECTED


def test_a_partly_failing_sync_batch_fails_only_its_bad_items_and_never_duplicates(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    t, state, ids = acme_globex, acme_globex.emu.state, acme_globex.emu.ids
    bre = qb_vendor("V-BRE", "Blue Ridge Electric")  # no commitment: its bills are direct costs
    record_receive(tenant=t.acme, obj=bre, session_id=None)
    wait_settled()
    # Someone else's direct cost in another project already uses origin id "P2" (unique per company).
    squatter = state.next_id()
    state.direct_costs[squatter] = {
        "id": squatter, "project_id": ids["project:Harbor Bridge"], "origin_id": "P2", "line_items": [],
        "direct_cost_type": "invoice", "vendor_id": 0, "status": "pending",
    }  # fmt: skip
    before = state.count("PATCH", "/direct_costs/sync$")
    with transaction.atomic():  # one Web Connector response: the three bills are due together
        for n in (1, 2, 3):
            record_receive(tenant=t.acme, obj=qb_bill(f"P{n}", bre, [(f"{n}00.0{n}", "")]), session_id=None)
    wait_settled()
    assert state.count("PATCH", "/direct_costs/sync$") - before == 1  # the three bills went in one call

    states = dict(SyncRecord.objects.filter(tenant=t.acme, qb_id__in=["P1", "P2", "P3"]).values_list("qb_id", "state"))
    assert states == {"P1": RecordState.SYNCED, "P2": RecordState.FAILED, "P3": RecordState.SYNCED}
    p2 = SyncRecord.objects.get(tenant=t.acme, qb_id="P2")
    assert "origin_id has already been taken" in p2.state_reason  # Procore's words, kept
    assert PushJob.objects.filter(record=p2).latest("pk").attempts == 1  # permanent: one attempt

    # The squatter is removed in Procore and P2 is replayed: it lands once; P1 and P3 are not duplicated.
    del state.direct_costs[squatter]
    record_replay(record=p2, acting_user_id=None)
    wait_settled()
    for n in (1, 2, 3):
        [dc] = state.direct_costs_by_origin(f"P{n}")
        assert [li["amount"] for li in dc["line_items"]] == [Decimal(f"{n}00.0{n}")]
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="P2").state == RecordState.SYNCED
