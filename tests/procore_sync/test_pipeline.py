"""The outbox pipeline end to end: record_receive → broker → real Celery worker → emulator over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncEvent, SyncRecord
from audit.qbtypes import QbBill, QbDeletion, QbVendor, bill_from_json, vendor_from_json
from audit.services import record_mark_deleted, record_receive, record_replay
from procore_sync.models import ExternalId, ProcoreKind
from procore_sync.services.mappings import costcode_map
from tenants.models import BillTarget
from tests.harness_procore import Tenants, connect_with_code, qb_bill, qb_vendor, wait_for, wait_settled

HARBOR_JOB = "Port Authority:Harbor Bridge"


def load_acme(t: Tenants) -> dict[str, Any]:
    apex = qb_vendor("V-APEX", "Apex Concrete")
    bre = qb_vendor("V-BRE", "Blue Ridge Electric")
    bills = {
        # Apex has a subcontract in the default project: a requisition on its 03-300 line.
        "B1": qb_bill("B1", apex, [("1200.10", ""), ("300.05", "")]),
        # Split across two projects: one requisition in each.
        "B2": qb_bill("B2", apex, [("1000.00", ""), ("2500.33", HARBOR_JOB)]),
        # Blue Ridge has no commitment: a direct cost on the 26-000 WBS code.
        "B3": qb_bill("B3", bre, [("999.99", "")]),
    }
    objs: list[QbVendor | QbBill] = [apex, bre, *bills.values()]
    for obj in objs:
        record_receive(tenant=t.acme, obj=obj, session_id=None)
    wait_settled()
    return {"apex": apex, "bre": bre, **bills}


def requisition_amount(t: Tenants, req: dict[str, Any]) -> dict[str, Decimal]:
    """Amount per cost code on a requisition in the emulator."""
    codes = {c["id"]: c["code"] for c in t.emu.state.cost_codes.values()}
    return {
        codes[i["cost_code_id"]]: i["work_completed_this_period"]
        for i in req["items"]
        if i["work_completed_this_period"] != 0
    }


def test_first_load_lands_exactly_once_with_amounts_cost_codes_and_projects(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    t, state, ids = acme_globex, acme_globex.emu.state, acme_globex.emu.ids
    load_acme(t)
    assert set(SyncRecord.objects.filter(tenant=t.acme).values_list("state", flat=True)) == {RecordState.SYNCED}

    # Vendors: Apex already existed (matched by origin_id, updated in place); Blue Ridge is new.
    [apex] = state.vendors_by_origin("V-APEX")
    assert apex["id"] == ids["vendor:V-APEX"] and apex["city"] == "Denver" and apex["state_code"] == "CO"
    [bre] = state.vendors_by_origin("V-BRE")
    assert bre["name"] == "Blue Ridge Electric" and bre["country_code"] == "US"

    main, harbor = ids["project:Main Street Office"], ids["project:Harbor Bridge"]
    [b1] = state.requisitions_by_origin("B1")
    assert b1["project_id"] == main and b1["commitment_id"] == ids["commitment:Main Street Office:V-APEX"]
    assert b1["invoice_number"] == "INV-B1" and b1["billing_date"] == "2026-11-02"
    assert requisition_amount(t, b1) == {"03-300": Decimal("1500.15")}

    b2 = {r["project_id"]: r for r in state.requisitions_by_origin("B2")}
    assert set(b2) == {main, harbor}
    assert requisition_amount(t, b2[main]) == {"03-300": Decimal("1000.00")}
    assert requisition_amount(t, b2[harbor]) == {"03-300": Decimal("2500.33")}

    [b3] = state.direct_costs_by_origin("B3")
    code_26 = next(c for c in state.cost_codes.values() if c["project_id"] == main and c["code"] == "26-000")
    assert b3["vendor_id"] == bre["id"] and b3["direct_cost_type"] == "invoice" and b3["invoice_number"] == "INV-B3"
    # The line names its cost code as Procore documents it: cost_code_id + line_item_type_id.
    assert [(li["cost_code_id"], li["line_item_type_id"], li["amount"]) for li in b3["line_items"]] == [
        (code_26["id"], code_26["line_item_types"][0]["id"], Decimal("999.99"))
    ]
    assert bre["id"] in state.project_vendors[main]  # added to the project directory
    # Both paths: each vendor joins the directory of every project its bills go to, once per pair.
    assert apex["id"] in state.project_vendors[main] and apex["id"] in state.project_vendors[harbor]
    assert state.count("POST", r"/vendors/\d+/actions/add") == 3  # Apex x2, Blue Ridge x1
    assert not state.direct_costs_by_origin("B1") and len(state.requisitions) == 3

    # Unchanged re-poll: QuickBooks sends the same versions again → not one Procore call.
    before = len(state.requests)
    apex_v, bre_v = (SyncRecord.objects.get(tenant=t.acme, qb_id=q) for q in ("V-APEX", "V-BRE"))
    for record in SyncRecord.objects.filter(tenant=t.acme):
        obj = vendor_from_json(record.payload) if record.kind == "vendor" else bill_from_json(record.payload)
        _, changed = record_receive(tenant=t.acme, obj=obj, session_id=None)
        assert not changed
    wait_settled()
    assert len(state.requests) == before
    # A replay of an unchanged bill is skipped by its payload hash: still no write.
    record_replay(record=SyncRecord.objects.get(tenant=t.acme, qb_id="B1"), acting_user_id=None)
    wait_settled()
    writes = [r for r in state.requests[before:] if r.method != "GET"]
    assert writes == [], writes
    assert SyncEvent.objects.filter(record__qb_id="B1", code=EventCode.PUSH_SKIPPED).exists()
    assert apex_v.procore_id == apex["id"] and bre_v.procore_id == bre["id"]


def deleted(qb_id: str, kind: str = "bill") -> QbDeletion:
    return QbDeletion(kind=kind, qb_id=qb_id, time_deleted=timezone.now())  # type: ignore[arg-type]


def test_edits_update_in_place_and_deletions_delete(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state, ids = acme_globex, acme_globex.emu.state, acme_globex.emu.ids
    qb = load_acme(t)
    main, harbor = ids["project:Main Street Office"], ids["project:Harbor Bridge"]
    [b1_before] = state.requisitions_by_origin("B1")
    # As a Procore admin (who may change any invoice); the invoice rules for everyone else are
    # in test_invoice_rules.py.
    state.admin_clients.add("acme-client")

    # Edits: new amounts, a new ref number, a vendor's new phone; B2 moves entirely to Main Street.
    record_receive(
        tenant=t.acme, obj=qb_bill("B1", qb["apex"], [("1750.00", "")], seq="2", ref="INV-B1-R"), session_id=None
    )
    record_receive(tenant=t.acme, obj=qb_bill("B2", qb["apex"], [("10.00", "")], seq="2"), session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("B3", qb["bre"], [("1234.56", "")], seq="2"), session_id=None)
    record_receive(
        tenant=t.acme, obj=qb_vendor("V-BRE", "Blue Ridge Electric", seq="2", phone="720-555-0199"), session_id=None
    )
    wait_settled()

    [b1] = state.requisitions_by_origin("B1")
    assert b1["id"] == b1_before["id"] and b1["invoice_number"] == "INV-B1-R"
    assert requisition_amount(t, b1) == {"03-300": Decimal("1750.00")}
    [b2] = state.requisitions_by_origin("B2")  # the Harbor Bridge part is gone
    assert b2["project_id"] == main and requisition_amount(t, b2) == {"03-300": Decimal("10.00")}
    assert not [r for r in state.requisitions.values() if r["project_id"] == harbor]
    [b3] = state.direct_costs_by_origin("B3")
    assert [li["amount"] for li in b3["line_items"]] == [Decimal("1234.56")]  # changed, not added
    [bre] = state.vendors_by_origin("V-BRE")
    assert bre["business_phone"] == "720-555-0199" and len(state.vendors) == 2

    # Deletions: the requisition and the direct cost go; a 404 (already deleted by hand) counts as done.
    state.requisitions.pop(b2["id"])
    for txn in ("B1", "B2", "B3"):
        record_mark_deleted(tenant=t.acme, deletion=deleted(txn), session_id=None)
    wait_settled()
    assert not state.requisitions and not state.direct_costs
    assert set(SyncRecord.objects.filter(tenant=t.acme, kind="bill").values_list("state", flat=True)) == {
        RecordState.DELETED
    }
    assert (
        not ExternalId.objects.filter(qb_id__in=["B1", "B2", "B3"])
        .exclude(procore_kind=ProcoreKind.PROJECT_VENDOR)
        .exists()
    )

    # A vendor deleted in QuickBooks is inactivated in Procore.
    record_mark_deleted(tenant=t.acme, deletion=deleted("V-BRE", "vendor"), session_id=None)
    wait_settled()
    assert state.vendors_by_origin("V-BRE")[0]["is_active"] is False


def test_a_bill_waits_for_its_vendor_and_for_a_mapping_then_goes_out_by_itself(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    t, state = acme_globex, acme_globex.emu.state
    newco = qb_vendor("V-NEW", "Newco Plumbing")
    record_receive(tenant=t.acme, obj=qb_bill("B9", newco, [("42.00", "")]), session_id=None)
    wait_settled()
    job = PushJob.objects.get(record__qb_id="B9")
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_VENDOR)

    record_receive(tenant=t.acme, obj=newco, session_id=None)
    wait_settled()
    job.refresh_from_db()
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_MAPPING)
    record = SyncRecord.objects.get(qb_id="B9")
    assert record.state == RecordState.WAITING and "No cost code mapped" in record.state_reason
    assert SyncEvent.objects.filter(record=record, code=EventCode.MAPPING_MISSING).exists()
    assert not state.direct_costs_by_origin("B9")

    costcode_map(tenant=t.acme, vendor_list_id="V-NEW", cost_code="22-000")
    wait_settled()
    [dc] = state.direct_costs_by_origin("B9")
    assert dc["line_items"][0]["amount"] == Decimal("42.00")
    assert SyncRecord.objects.get(qb_id="B9").state == RecordState.SYNCED


def test_a_bill_deleted_before_it_was_pushed_is_dropped_and_audited(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    ghost = qb_vendor("V-GHOST", "Ghost Framing")
    record_receive(tenant=t.acme, obj=ghost, session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("B7", ghost, [("77.00", "")]), session_id=None)
    wait_settled()  # no mapping: waiting
    before = len(state.requests)
    record_mark_deleted(tenant=t.acme, deletion=deleted("B7"), session_id=None)
    wait_settled()
    record = SyncRecord.objects.get(qb_id="B7")
    assert record.state == RecordState.DELETED
    assert SyncEvent.objects.filter(record=record, code=EventCode.PROCORE_DROPPED).exists()
    assert len(state.requests) == before  # nothing to ask Procore


def test_an_edit_arriving_mid_push_supersedes_the_job_in_flight(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    bre = qb_vendor("V-BRE", "Blue Ridge Electric")
    record_receive(tenant=t.acme, obj=bre, session_id=None)
    wait_settled()
    state.inject("latency", delay=1.0, method="POST", path="/actions/add$")
    state.inject("status", status=500, count=8, method="PATCH", path="/direct_costs/sync$")  # outlasts the resends
    record_receive(tenant=t.acme, obj=qb_bill("B5", bre, [("50.00", "")]), session_id=None)
    first = PushJob.objects.get(record__qb_id="B5")
    wait_for(lambda: PushJob.objects.get(pk=first.pk).state == JobState.IN_FLIGHT, message="the first push in flight")
    record_receive(tenant=t.acme, obj=qb_bill("B5", bre, [("55.55", "")], seq="2"), session_id=None)
    wait_settled()
    first.refresh_from_db()
    assert (first.state, first.reason) == (JobState.CANCELLED, JobReason.SUPERSEDED)
    [dc] = state.direct_costs_by_origin("B5")
    assert [li["amount"] for li in dc["line_items"]] == [Decimal("55.55")]
    assert SyncRecord.objects.get(qb_id="B5").state == RecordState.SYNCED


def test_the_tenants_bill_target_chooses_requisition_or_direct_cost(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    apex, bre = qb_vendor("V-APEX", "Apex Concrete"), qb_vendor("V-BRE", "Blue Ridge Electric")
    t.acme.bill_target = BillTarget.DIRECT_COST_ONLY
    t.acme.save()
    for obj in (apex, bre):
        record_receive(tenant=t.acme, obj=obj, session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("D1", apex, [("10.00", "")]), session_id=None)
    wait_settled()
    assert not state.requisitions_by_origin("D1") and len(state.direct_costs_by_origin("D1")) == 1

    t.acme.bill_target = BillTarget.REQUISITION_ONLY
    t.acme.save()
    record_receive(tenant=t.acme, obj=qb_bill("R1", bre, [("20.00", "")]), session_id=None)
    record_receive(tenant=t.acme, obj=qb_bill("R2", apex, [("30.00", "")]), session_id=None)
    wait_settled()
    job = PushJob.objects.get(record__qb_id="R1")
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_MAPPING)
    assert "only sends subcontractor invoices" in job.last_error
    assert not state.direct_costs_by_origin("R1")
    assert len(state.requisitions_by_origin("R2")) == 1


def test_sandbox_and_production_keep_separate_id_maps(acme_globex: Tenants, celery_worker: Any) -> None:
    t, state = acme_globex, acme_globex.emu.state
    bre = qb_vendor("V-BRE", "Blue Ridge Electric")
    record_receive(tenant=t.acme, obj=bre, session_id=None)
    wait_settled()
    assert set(ExternalId.objects.filter(qb_id="V-BRE").values_list("environment", flat=True)) == {"sandbox"}
    # Production is another Procore: another connection, another id map; sandbox ids are never reused.
    t.acme.procore_environment = "production"
    t.acme.save()
    record_receive(tenant=t.acme, obj=qb_vendor("V-BRE", "Blue Ridge Electric", seq="2"), session_id=None)
    wait_settled()
    job = PushJob.objects.filter(record__qb_id="V-BRE").latest("pk")
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_RECONNECT)  # no production connection yet
    connect_with_code(t.acme, t.emu, "acme-client", "acme-secret")
    wait_settled()
    envs = dict(ExternalId.objects.filter(qb_id="V-BRE").values_list("environment", "procore_id"))
    assert set(envs) == {"sandbox", "production"}
    assert len(state.vendors_by_origin("V-BRE")) == 1  # both point at this one emulator


def test_after_a_sandbox_to_production_switch_a_bill_waiting_for_its_vendor_goes_out_once(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    """Regression (issue 9): the id map read without its environment made this bill loop silently."""
    from procore_sync.services.sweep import outbox_sweep

    t, state = acme_globex, acme_globex.emu.state
    bre = qb_vendor("V-BRE", "Blue Ridge Electric")
    record_receive(tenant=t.acme, obj=bre, session_id=None)
    wait_settled()
    t.acme.procore_environment = "production"
    t.acme.save()
    connect_with_code(t.acme, t.emu, "acme-client", "acme-secret")
    wait_settled()
    # The vendor has only a sandbox id: in production the bill must wait for it, and stay put.
    record_receive(tenant=t.acme, obj=qb_bill("ENV-1", bre, [("12.34", "")]), session_id=None)
    wait_settled()
    job = PushJob.objects.get(record__qb_id="ENV-1")
    assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_VENDOR)
    events = SyncEvent.objects.filter(record__qb_id="ENV-1").count()
    for _ in range(3):  # the periodic sweep must not re-arm it on the strength of the sandbox id
        outbox_sweep()
        wait_settled()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.WAITING, 0)
    assert SyncEvent.objects.filter(record__qb_id="ENV-1").count() == events  # no hot loop, nothing hidden

    # QuickBooks sends the vendor again: it reaches production, and the bill goes out exactly once.
    record_receive(tenant=t.acme, obj=qb_vendor("V-BRE", "Blue Ridge Electric", seq="2"), session_id=None)
    wait_settled()
    [dc] = state.direct_costs_by_origin("ENV-1")
    assert [li["amount"] for li in dc["line_items"]] == [Decimal("12.34")]
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.DONE, 1)
    assert ExternalId.objects.filter(qb_id="ENV-1", environment="production").exists()
