"""PURE: compare what QuickBooks holds with what Procore holds, to the cent.

Input is plain dataclasses (gathered by procore_sync.reconcile.gather); output is
a Report that the command and the admin both render. No ORM, no HTTP here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ExpectedPart:
    """One bill's share in one project, as QuickBooks says it should be in Procore."""

    txn_id: str
    ref: str
    vendor_list_id: str
    vendor_name: str
    project_id: int
    amount: Decimal
    waiting: str = ""  # why it is not pushed yet (e.g. waiting for a cost-code mapping)


@dataclass(frozen=True)
class FoundCost:
    """A Procore requisition or direct cost that carries one of our QuickBooks TxnIDs."""

    origin_id: str
    kind: str
    procore_id: int
    project_id: int
    amount: Decimal


@dataclass(frozen=True)
class Difference:
    vendor_name: str
    project_id: int
    ref: str
    expected: Decimal | None
    found: Decimal | None
    problem: str


@dataclass(frozen=True)
class VendorProjectTotal:
    vendor_name: str
    project_id: int
    expected: Decimal
    found: Decimal

    @property
    def matches(self) -> bool:
        return self.expected == self.found


@dataclass
class Report:
    totals: list[VendorProjectTotal] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    bills_checked: int = 0
    parts_checked: int = 0
    procore_records: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def expected_total(self) -> Decimal:
        return sum((t.expected for t in self.totals), ZERO)

    @property
    def found_total(self) -> Decimal:
        return sum((t.found for t in self.totals), ZERO)


def compare(expected: list[ExpectedPart], found: list[FoundCost], *, vendor_of: dict[str, str]) -> Report:
    """Match by (TxnID, project). `vendor_of` names the vendor of TxnIDs no longer expected."""
    by_key: dict[tuple[str, int], list[FoundCost]] = defaultdict(list)
    for cost in found:
        by_key[(cost.origin_id, cost.project_id)].append(cost)
    report = Report(
        bills_checked=len({e.txn_id for e in expected}), parts_checked=len(expected), procore_records=len(found)
    )
    totals: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])

    for part in expected:
        costs = by_key.pop((part.txn_id, part.project_id), [])
        got = sum((c.amount for c in costs), ZERO)
        totals[(part.vendor_name, part.project_id)][0] += part.amount
        totals[(part.vendor_name, part.project_id)][1] += got
        if not costs:
            problem = f"not in Procore ({part.waiting})" if part.waiting else "not in Procore"
            report.differences.append(
                Difference(part.vendor_name, part.project_id, part.ref, part.amount, None, problem)
            )
        elif len(costs) > 1:
            ids = ", ".join(f"{c.kind} {c.procore_id}" for c in costs)
            report.differences.append(
                Difference(
                    part.vendor_name, part.project_id, part.ref, part.amount, got, f"duplicated in Procore: {ids}"
                )
            )
        elif costs[0].amount != part.amount:
            report.differences.append(
                Difference(part.vendor_name, part.project_id, part.ref, part.amount, got, "amount differs")
            )

    for (origin_id, project_id), costs in sorted(by_key.items()):
        vendor = vendor_of.get(origin_id, "(unknown vendor)")
        got = sum((c.amount for c in costs), ZERO)
        totals[(vendor, project_id)][1] += got
        ids = ", ".join(f"{c.kind} {c.procore_id}" for c in costs)
        report.differences.append(
            Difference(vendor, project_id, origin_id, None, got, f"in Procore but not an open QuickBooks bill: {ids}")
        )

    report.totals = [
        VendorProjectTotal(vendor, project, amounts[0], amounts[1])
        for (vendor, project), amounts in sorted(totals.items(), key=lambda kv: (kv[0][0].lower(), kv[0][1]))
    ]
    return report


def render(report: Report, *, project_names: dict[int, str] | None = None) -> str:
    """Plain-text report for the command line."""
    names = project_names or {}
    lines = [
        f"{report.bills_checked} open QuickBooks bills ({report.parts_checked} project shares) checked "
        f"against {report.procore_records} Procore records",
        f"QuickBooks total {report.expected_total:,.2f} · Procore total {report.found_total:,.2f}",
    ]
    mismatched = [t for t in report.totals if not t.matches]
    if mismatched:
        lines.append("")
        lines.append(f"{'vendor':<36} {'project':<28} {'QuickBooks':>14} {'Procore':>14}")
        for t in mismatched:
            project = names.get(t.project_id, str(t.project_id))
            lines.append(f"{t.vendor_name[:36]:<36} {project[:28]:<28} {t.expected:>14,.2f} {t.found:>14,.2f}")
    if report.differences:
        lines.append("")
        lines.append(f"{len(report.differences)} difference(s):")
        for d in report.differences:
            exp = "—" if d.expected is None else f"{d.expected:,.2f}"
            got = "—" if d.found is None else f"{d.found:,.2f}"
            project = names.get(d.project_id, str(d.project_id))
            lines.append(
                f"  {d.vendor_name[:30]} · {project[:24]} · {d.ref}: QuickBooks {exp}, Procore {got} — {d.problem}"
            )
    else:
        lines.append("Every open QuickBooks bill is in Procore exactly once, to the cent.")
    return "\n".join(lines)
