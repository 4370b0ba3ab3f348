"""procore_sync.reconcile.compare: the pure comparison behind `manage.py reconcile`."""

from __future__ import annotations

from decimal import Decimal

from procore_sync.reconcile.compare import ExpectedPart, FoundCost, compare, render

D = Decimal


def part(txn: str, amount: str, project: int = 1, vendor: str = "Smith & Sons", waiting: str = "") -> ExpectedPart:
    return ExpectedPart(
        txn_id=txn,
        ref=f"INV-{txn}",
        vendor_list_id="V1",
        vendor_name=vendor,
        project_id=project,
        amount=D(amount),
        waiting=waiting,
    )


def cost(txn: str, amount: str, project: int = 1, pid: int = 100) -> FoundCost:
    return FoundCost(origin_id=txn, kind="requisition", procore_id=pid, project_id=project, amount=D(amount))


def test_everything_matching_is_ok() -> None:
    report = compare(
        [part("T1", "100.10"), part("T2", "0.01", project=2)],
        [cost("T1", "100.10"), cost("T2", "0.01", project=2, pid=101)],
        vendor_of={},
    )
    assert report.ok
    assert report.expected_total == report.found_total == D("100.11")
    assert "exactly once, to the cent" in render(report)


def test_a_cent_off_is_a_difference() -> None:
    report = compare([part("T1", "100.10")], [cost("T1", "100.09")], vendor_of={})
    assert not report.ok
    assert report.differences[0].problem == "amount differs"
    assert report.totals[0].expected == D("100.10") and report.totals[0].found == D("100.09")


def test_missing_duplicated_and_extra_records_are_named() -> None:
    report = compare(
        [part("T1", "5.00"), part("T2", "7.00", waiting="No cost code mapped")],
        [cost("T1", "5.00", pid=1), cost("T1", "5.00", pid=2), cost("T9", "3.00", pid=3)],
        vendor_of={"T9": "Deleted Vendor"},
    )
    problems = {d.ref: d.problem for d in report.differences}
    assert problems["INV-T1"].startswith("duplicated in Procore: requisition 1, requisition 2")
    assert problems["INV-T2"] == "not in Procore (No cost code mapped)"
    assert problems["T9"].startswith("in Procore but not an open QuickBooks bill")
    text = render(report, project_names={1: "Harbor View"})
    assert "3 difference(s)" in text and "Harbor View" in text


def test_the_same_bill_in_the_wrong_project_is_missing_and_extra() -> None:
    report = compare([part("T1", "5.00", project=1)], [cost("T1", "5.00", project=2)], vendor_of={"T1": "Smith & Sons"})
    assert len(report.differences) == 2
