"""A paused or inactive tenant is never pushed for (real worker, emulator over HTTP; issue 10).

Its jobs wait with a visible reason, spend no attempt, and go by themselves (the periodic
sweep) once the tenant is re-enabled; the other tenant keeps syncing meanwhile.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncRecord
from audit.services import record_receive
from procore_sync.services.sweep import outbox_sweep
from tenants.models import Tenant
from tests.harness_procore import Tenants, qb_vendor, wait_settled


def calls_of(t: Tenants, client_id: str) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in t.emu.state.requests if r.client_id == client_id and r.path != "/oauth/token"]


def set_flags(tenant: Tenant, **flags: bool) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(**flags)


@pytest.mark.parametrize(
    ("off", "on"), [({"sync_paused": True}, {"sync_paused": False}), ({"active": False}, {"active": True})]
)
def test_a_paused_or_inactive_tenant_waits_and_resumes_once_re_enabled(
    acme_globex: Tenants, celery_worker: Any, off: dict[str, bool], on: dict[str, bool]
) -> None:
    t = acme_globex
    set_flags(t.acme, **off)
    acme_before = len(calls_of(t, "acme-client"))
    record_receive(tenant=t.acme, obj=qb_vendor("V-PAUSE", "Paused Plumbing"), session_id=None)
    record_receive(tenant=t.globex, obj=qb_vendor("G-LIVE", "Live Electric"), session_id=None)
    wait_settled()

    # acme: Procore never called, the job waits with the reason, no attempt spent, the record says so.
    assert len(calls_of(t, "acme-client")) == acme_before
    job = PushJob.objects.get(tenant=t.acme, record__qb_id="V-PAUSE")
    assert (job.state, job.reason, job.attempts) == (JobState.WAITING, JobReason.TENANT_PAUSED, 0)
    record = SyncRecord.objects.get(tenant=t.acme, qb_id="V-PAUSE")
    assert record.state == RecordState.WAITING and "paused" in record.state_reason
    assert record.events.filter(code=EventCode.PUSH_WAITING, data__reason=JobReason.TENANT_PAUSED).exists()
    # globex: synced meanwhile.
    assert SyncRecord.objects.get(tenant=t.globex, qb_id="G-LIVE").state == RecordState.SYNCED

    # Still off: the sweep leaves the job waiting.
    outbox_sweep()
    wait_settled()
    assert PushJob.objects.get(pk=job.pk).state == JobState.WAITING
    assert len(calls_of(t, "acme-client")) == acme_before

    # Re-enabled: the sweep re-arms it and it is pushed exactly once.
    set_flags(t.acme, **on)
    assert outbox_sweep()["rearmed"] == 1
    wait_settled()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.DONE, 1)
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="V-PAUSE").state == RecordState.SYNCED
    assert calls_of(t, "acme-client")[acme_before:] == [("PATCH", "/rest/v1.0/vendors/sync")]
    assert len([v for v in t.emu.state.vendors.values() if v.get("origin_id") == "V-PAUSE"]) == 1
    outbox_sweep()
    wait_settled()
    assert calls_of(t, "acme-client")[acme_before:] == [("PATCH", "/rest/v1.0/vendors/sync")]
