"""QuickBooks bills on subcontractor invoices under Procore's rules (docs/invoices.md).

Procore lets a non-admin change only the latest invoice of a commitment while it is draft or
revise-and-resubmit, and delete only the latest open one. Every sequence below ends either with
Procore matching QuickBooks to the cent, or with the record waiting (needs_procore) saying what a
person can do in Procore; once they have, the next re-check finishes it by itself. Real worker,
emulator over HTTP.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.utils import timezone

from audit.models import JobReason, JobState, PushJob, RecordState, SyncRecord
from audit.qbtypes import QbDeletion
from audit.services import record_mark_deleted, record_receive
from procore_sync.services.sweep import outbox_sweep
from tests.harness_procore import Tenants, qb_bill, qb_vendor, wait_settled

HARBOR_JOB = "Port Authority:Harbor Bridge"


def amount(req: dict[str, Any]) -> Decimal:
    return sum((i["work_completed_this_period"] for i in req["items"]), Decimal("0"))


def recheck(settings: Any) -> None:
    """The sweep's periodic look at jobs waiting for a person (made due at once here)."""
    settings.PROCORE_RECHECK_SECONDS = 0.01
    time.sleep(0.05)
    outbox_sweep()
    wait_settled()


def waiting_for_procore(t: Tenants, txn: str) -> SyncRecord:
    job = PushJob.objects.filter(record__tenant=t.acme, record__qb_id=txn).latest("pk")
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_PROCORE), (
        job.state,
        job.reason,
        job.last_error,
    )
    record = SyncRecord.objects.get(tenant=t.acme, qb_id=txn)
    assert record.state == RecordState.WAITING
    return record


def two_invoices(t: Tenants) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    apex = qb_vendor("V-APEX", "Apex Concrete")
    record_receive(tenant=t.acme, obj=apex, session_id=None)
    wait_settled()
    record_receive(tenant=t.acme, obj=qb_bill("OLD", apex, [("100.00", "")]), session_id=None)
    wait_settled()
    record_receive(tenant=t.acme, obj=qb_bill("NEW", apex, [("200.00", "")]), session_id=None)
    wait_settled()
    [old], [new] = t.emu.state.requisitions_by_origin("OLD"), t.emu.state.requisitions_by_origin("NEW")
    assert old["commitment_id"] == new["commitment_id"] and new["number"] == old["number"] + 1
    return apex, old, new


def test_an_older_bill_edited_after_newer_invoices_waits_until_a_person_changes_it(
    acme_globex: Tenants, celery_worker: Any, settings: Any
) -> None:
    t, state = acme_globex, acme_globex.emu.state
    apex, old, _new = two_invoices(t)
    record_receive(tenant=t.acme, obj=qb_bill("OLD", apex, [("150.00", "")], seq="2"), session_id=None)
    wait_settled()
    record = waiting_for_procore(t, "OLD")
    assert f"invoice {old['id']}" in record.state_reason and "Procore" in record.state_reason
    assert amount(state.requisitions[old["id"]]) == Decimal("100.00")  # unchanged, and no retry loop
    calls = len(state.requests)
    time.sleep(0.3)
    assert len(state.requests) == calls

    # A Procore admin corrects the invoice; the next re-check finds it matching and is done.
    item = next(i for i in state.requisitions[old["id"]]["items"] if i["work_completed_this_period"])
    item["work_completed_this_period"] = Decimal("150.00")
    recheck(settings)
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="OLD").state == RecordState.SYNCED


def test_an_approved_invoice_waits_until_it_is_sent_back_then_the_edit_lands(
    acme_globex: Tenants, celery_worker: Any, settings: Any
) -> None:
    t, state = acme_globex, acme_globex.emu.state
    apex, _old, new = two_invoices(t)
    state.requisitions[new["id"]]["status"] = "approved"
    record_receive(tenant=t.acme, obj=qb_bill("NEW", apex, [("250.00", "")], seq="2"), session_id=None)
    wait_settled()
    assert "Revise and Resubmit" in waiting_for_procore(t, "NEW").state_reason

    state.requisitions[new["id"]]["status"] = "revise_and_resubmit"  # what the message asks for
    recheck(settings)
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="NEW").state == RecordState.SYNCED
    assert amount(state.requisitions[new["id"]]) == Decimal("250.00")


def test_a_deleted_older_bill_waits_then_its_invoice_is_deleted_not_zeroed(
    acme_globex: Tenants, celery_worker: Any, settings: Any
) -> None:
    t, state = acme_globex, acme_globex.emu.state
    _apex, old, new = two_invoices(t)
    record_mark_deleted(
        tenant=t.acme,
        deletion=QbDeletion(kind="bill", qb_id="OLD", time_deleted=timezone.now()),  # type: ignore[arg-type]
        session_id=None,
    )
    wait_settled()
    waiting_for_procore(t, "OLD")
    assert amount(state.requisitions[old["id"]]) == Decimal("100.00")  # never zeroed behind anyone's back

    # A person deletes the newer invoice in Procore (it is re-sent later); the older one is now the latest.
    state.requisitions.pop(new["id"])
    recheck(settings)
    assert old["id"] not in state.requisitions
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="OLD").state == RecordState.DELETED


def test_a_bill_split_over_two_jobs_gets_one_invoice_per_project_with_its_own_origin_id(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    t, state, ids = acme_globex, acme_globex.emu.state, acme_globex.emu.ids
    apex = qb_vendor("V-APEX", "Apex Concrete")
    record_receive(tenant=t.acme, obj=apex, session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("SPLIT", apex, [("10.01", ""), ("20.02", HARBOR_JOB)]), session_id=None)
    wait_settled()
    main, harbor = ids["project:Main Street Office"], ids["project:Harbor Bridge"]
    by_project = {r["project_id"]: r for r in state.requisitions_by_origin("SPLIT")}
    assert {p: amount(r) for p, r in by_project.items()} == {main: Decimal("10.01"), harbor: Decimal("20.02")}
    # Origin IDs are unique within a company across projects.
    assert {r["origin_id"] for r in by_project.values()} == {f"SPLIT:{main}", f"SPLIT:{harbor}"}
    assert SyncRecord.objects.get(tenant=t.acme, qb_id="SPLIT").state == RecordState.SYNCED
