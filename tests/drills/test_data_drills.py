"""Drills 12-16: awkward QuickBooks data and timing (vendor not there yet, deletions, edits, renames, mappings)."""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal

from audit.models import EventCode, JobReason, JobState, PushJob, RecordKind, RecordState, SyncRecord
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import Dataset
from procore_sync.services.mappings import costcode_map
from tests.drills.harness import Drill, background, bill_total, change, dataset, edit_amount, wait_settled, when


def _vendor_with_bills(data: Dataset, at_least: int = 2) -> tuple[str, list[str]]:
    by_vendor = Counter(b["VendorRef"]["ListID"] for b in data.bills)
    list_id = next(v for v, n in by_vendor.most_common() if n >= at_least)
    return list_id, [b["TxnID"] for b in data.bills if b["VendorRef"]["ListID"] == list_id]


def _bill(company: FakeCompany, txn_id: str) -> dict[str, object]:
    return next(b for b in company.data.bills if b["TxnID"] == txn_id)


@contextlib.contextmanager
def _vendors_held_until(drill: Drill, bill_waits: Callable[[], bool]) -> Iterator[None]:
    """Procore refuses the vendor sync (503) until it has refused it at least once and a bill has
    been tried and parked for its vendor. (Both: when the bills' trigger is claimed before the
    vendors' one, a bill waits before any vendor sync was tried; releasing then would leave no
    refusal in the audit trail to look for.)"""
    state = drill.state
    held = 1_000_000
    hold = state.inject("status", status=503, count=held, method="PATCH", path="/vendors/sync")

    def refused_and_waiting() -> bool:
        with state.lock:
            refused = hold.count < held
        return refused and bill_waits()

    def release() -> None:
        with state.lock:
            hold.count = 0

    with background(when(refused_and_waiting, release, timeout=60)):
        yield
    assert hold.count == 0, "a bill waited for its vendor"


def _waiting_for_vendor(tenant_id: int, txn_ids: list[str] | None = None) -> Callable[[], bool]:
    def check() -> bool:
        jobs = PushJob.objects.filter(tenant_id=tenant_id, state=JobState.WAITING, reason=JobReason.NEEDS_VENDOR)
        return (jobs.filter(record__qb_id__in=txn_ids) if txn_ids is not None else jobs).exists()

    return check


def test_drill_12_a_bill_whose_vendor_is_not_yet_in_procore(drill: Drill) -> None:
    acme = drill.t.acme
    company = drill.company(dataset(changes=True))
    with _vendors_held_until(drill, _waiting_for_vendor(acme.pk)):
        drill.sync(company)
    drill.check(company)
    waited = {e.record_id for e in drill.events(acme, EventCode.PUSH_WAITING) if "Waiting for vendor" in e.message}
    assert waited, "bills waited for their vendor"
    for record in SyncRecord.objects.filter(pk__in=waited):
        codes = drill.codes(acme, record.qb_id)
        assert codes.index(EventCode.PUSH_WAITING) < codes.index(EventCode.PUSH_SUCCEEDED), codes
    assert any(c["status"] == 503 for c in drill.calls_seen(acme)), "the vendors' refusals are in the audit trail"

    # Next poll: a vendor new in QuickBooks arrives with its first bill, and Procore refuses it for a while.
    assert company.apply_next_changes()
    new_vendor = company.data.changes[0]["add_vendors"][0]["ListID"]
    [new_bill] = [b["TxnID"] for b in company.data.bills if b["VendorRef"]["ListID"] == new_vendor]
    with _vendors_held_until(drill, _waiting_for_vendor(acme.pk, [new_bill])):
        drill.sync(company)
    drill.check(company)
    codes = drill.codes(acme, new_bill)
    assert (
        codes.index(EventCode.PUSH_WAITING) < codes.index(EventCode.PUSH_SUCCEEDED)
        and codes[-1] == EventCode.PUSH_SUCCEEDED
    )


def test_drill_13_a_bill_deleted_in_quickbooks_before_it_was_pushed(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    data = dataset()
    vendor, txns = _vendor_with_bills(data)
    # The vendor has no cost-code mapping yet, so its bills wait (never pushed).
    company = drill.company(data, unmapped=(vendor,))
    drill.sync(company)
    doomed = txns[0]
    assert SyncRecord.objects.get(tenant=acme, qb_id=doomed).state == RecordState.WAITING
    # In QuickBooks: that bill is deleted, and a bill entered and deleted between two polls.
    ghost = copy.deepcopy(company.data.bills[-1])
    ghost["TxnID"] = "GHOST-1700000000"
    before = len(state.requests)
    change(company, add_bills=[ghost], delete_bills=[doomed, ghost["TxnID"]])
    drill.sync(company)

    record = SyncRecord.objects.get(tenant=acme, qb_id=doomed)
    assert record.state == RecordState.DELETED and record.deleted_in_qb
    codes = drill.codes(acme, doomed)
    assert codes[-2:] == [EventCode.QB_DELETED, EventCode.PROCORE_DROPPED], codes
    assert not SyncRecord.objects.filter(tenant=acme, qb_id=ghost["TxnID"]).exists()
    assert len(state.requests) == before, "nothing to ask Procore"

    # The mapping arrives: the vendor's other bills go out, the deleted one never does.
    costcode_map(tenant=acme, vendor_list_id=vendor, cost_code="22-000")
    wait_settled()
    drill.check(company)
    assert doomed not in drill.documents(acme)
    assert PushJob.objects.get(record=record, op="bill_upsert").state == JobState.CANCELLED


def test_drill_14_a_bill_edited_three_times_between_polls(drill: Drill) -> None:
    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset())
    drill.sync(company)
    txn = company.data.bills[4]["TxnID"]
    first_ids = {d.procore_id for d in drill.documents(acme)[txn]}

    for amount in ("111.11", "222.22", "333.33"):  # three edits, one poll
        edit_amount(company, txn, amount)
    drill.sync(company)
    drill.check(company)
    received = [c for c in drill.codes(acme, txn) if c == EventCode.QB_RECEIVED]
    assert len(received) == 2, "the first version and the last; QuickBooks never showed the middle ones"

    # Three polls in a row, each with an edit, while Procore is slow to take the updates.
    state.inject("latency", delay=0.8, method="PATCH", path=r"/direct_costs/\d+$", count=3)
    for amount in ("1000.01", "2000.02", "3000.03"):
        edit_amount(company, txn, amount)
        drill.run(company)
    wait_settled()
    drill.check(company)
    assert bill_total(_bill(company, txn)) == SyncRecord.objects.get(tenant=acme, qb_id=txn).amount
    docs = drill.documents(acme)[txn]
    assert sum((d.amount for d in docs), Decimal("0")) == bill_total(_bill(company, txn))
    # The default project's document was updated in place each time, never re-created.
    assert first_ids & {d.procore_id for d in docs}


def test_drill_15_a_vendor_renamed(drill: Drill) -> None:
    acme = drill.t.acme
    company = drill.company(dataset())
    drill.sync(company)
    vendor = company.data.vendors[2]
    [before] = drill.vendors(acme, vendor["ListID"])
    change(company, edit_vendors=[{"ListID": vendor["ListID"], "Name": "Müller & Söhne Beton — Café Division"}])
    drill.sync(company)
    drill.check(company)
    [after] = drill.vendors(acme, vendor["ListID"])
    assert after["id"] == before["id"] and after["name"] == "Müller & Söhne Beton — Café Division"
    record = SyncRecord.objects.get(tenant=acme, kind=RecordKind.VENDOR, qb_id=vendor["ListID"])
    assert record.label == "Müller & Söhne Beton — Café Division"
    assert drill.codes(acme, vendor["ListID"])[-1] == EventCode.PUSH_SUCCEEDED


def test_drill_16_a_cost_code_mapping_added_later(drill: Drill) -> None:
    acme = drill.t.acme
    data = dataset()
    vendor, txns = _vendor_with_bills(data)
    company = drill.company(data, unmapped=(vendor,))
    drill.sync(company)
    drill.check(company, skip_bills=set(txns))
    for txn in txns:
        job = PushJob.objects.get(tenant=acme, record__qb_id=txn)
        assert (job.state, job.reason) == (JobState.WAITING, JobReason.NEEDS_MAPPING)
        record = SyncRecord.objects.get(tenant=acme, qb_id=txn)
        assert record.state == RecordState.WAITING and "No cost code mapped" in record.state_reason
        assert txn not in drill.documents(acme)

    # An accountant maps the vendor: nobody clicks Replay, the bills go out.
    result = costcode_map(tenant=acme, vendor_list_id=vendor, cost_code="22-000", vendor_name="mapped later")
    assert result.released == len(txns)
    wait_settled()
    drill.check(company)
    for txn in txns:
        codes = drill.codes(acme, txn)
        assert (
            codes.index(EventCode.MAPPING_MISSING)
            < codes.index(EventCode.MAPPING_SAVED)
            < codes.index(EventCode.PUSH_SUCCEEDED)
        )
        assert EventCode.REPLAY_REQUESTED not in codes
