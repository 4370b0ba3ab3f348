"""The fault drills' harness: QuickBooks (simulator) → our server → outbox → Celery → Procore (emulator).

Every drill plays a real sync: the Web Connector simulator talks SOAP over HTTP
to the live server, a real Celery worker pushes to the Procore emulator over
HTTP. One thing goes wrong on the way; `Drill.check` then proves that each
QuickBooks vendor and open bill is in Procore exactly once with the right
amount (Decimal, to the cent), that deleted bills are gone, and that every
record's audit trail ends where it should.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from audit.models import EventCode, PushJob, RecordKind, RecordState, SyncEvent, SyncRecord
from peers.qbwc_simulator.client import RunResult, WebConnector
from peers.qbwc_simulator.company import FakeCompany, Faults
from peers.qbwc_simulator.dataset import Dataset, Record, build
from procore_sync.models import CostCodeMapping, JobProjectMapping
from procore_sync.payloads import txn_of_origin
from tenants.models import Tenant
from tests.factories import PASSWORD
from tests.harness_procore import Emu, Tenants, wait_for, wait_settled

CENT = Decimal("0.01")
# One of the dataset's jobs lives in a second Procore project, so bills split across projects.
SPLIT_JOB = "Harbor View Condos:Phase 1"
FINAL_PUSH_CODES = {EventCode.PUSH_SUCCEEDED, EventCode.PUSH_SKIPPED}
FINAL_DELETE_CODES = {EventCode.PROCORE_DELETED, EventCode.PROCORE_DROPPED}


def dataset(*, vendors: int = 6, bills: int = 20, seed: int = 7, changes: bool = False) -> Dataset:
    """A small construction company (seconds per drill, not minutes)."""
    return build(vendors=vendors, bills=bills, seed=seed, changes=changes)


def bill_lines(bill: Record) -> list[Record]:
    return list(bill.get("ExpenseLineRet") or []) + list(bill.get("ItemLineRet") or [])


def bill_total(bill: Record) -> Decimal:
    return Decimal(bill["AmountDue"])


def edit_amount(company: FakeCompany, txn_id: str, amount: str) -> None:
    """A bookkeeper changes a bill's first line (the simulator keeps AmountDue in step)."""
    company.data.changes.append({"edit_bills": [{"TxnID": txn_id, "line_amount": amount}]})
    assert company.apply_next_changes()


def change(company: FakeCompany, **what: Any) -> None:
    """Apply one change set now (edit_bills, edit_vendors, add_bills, delete_bills, ...)."""
    company.data.changes.append(copy.deepcopy(what))
    assert company.apply_next_changes()


class HookedConnector(WebConnector):
    """The Web Connector, with a hook called before each SOAP call (to break things mid-session)."""

    def __init__(self, *args: Any, hook: Callable[[str, int], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hook = hook
        self.made = 0

    def call(self, method: str, **params: str | int) -> Any:
        self.made += 1
        self.hook(method, self.made)
        return super().call(method, **params)


@dataclass
class Found:
    kind: str
    procore_id: int
    project_id: int
    amount: Decimal


@dataclass
class Drill:
    t: Tenants
    url: str
    connectors: list[WebConnector] = field(default_factory=list)

    @property
    def emu(self) -> Emu:
        return self.t.emu

    @property
    def state(self) -> Any:
        return self.t.emu.state

    # --- QuickBooks side ----------------------------------------------------------

    def company(
        self,
        data: Dataset | None = None,
        *,
        tenant: Tenant | None = None,
        faults: Faults | None = None,
        unmapped: tuple[str, ...] = (),
    ) -> FakeCompany:
        """A company file for `tenant` (acme), with a cost-code mapping for every vendor but `unmapped`."""
        tenant = tenant or self.t.acme
        company = FakeCompany(data or dataset(), faults=faults)
        vendors = list(company.data.vendors)
        for ch in company.data.changes:
            vendors += ch.get("add_vendors", [])
        for v in vendors:
            if v["ListID"] not in unmapped:
                self.map_vendor(tenant, v)
        if tenant == self.t.acme:
            JobProjectMapping.objects.get_or_create(
                tenant=tenant,
                customer_full_name=SPLIT_JOB,
                defaults={"project_id": self.emu.ids["project:Harbor Bridge"]},
            )
        return company

    @staticmethod
    def map_vendor(tenant: Tenant, vendor: Record, cost_code: str = "01-100") -> None:
        CostCodeMapping.objects.get_or_create(
            tenant=tenant,
            vendor_list_id=vendor["ListID"],
            project_id=0,
            defaults={"vendor_name": vendor["Name"][:255], "cost_code": cost_code},
        )

    def connector(
        self, company: FakeCompany, *, tenant: Tenant | None = None, hook: Callable[[str, int], None] | None = None
    ) -> WebConnector:
        username = (tenant or self.t.acme).qbwc_username
        conn: WebConnector
        if hook is None:
            conn = WebConnector(self.url, username, PASSWORD, company)
        else:
            conn = HookedConnector(self.url, username, PASSWORD, company, hook=hook)
        self.connectors.append(conn)
        return conn

    def run(self, company: FakeCompany, *, tenant: Tenant | None = None, expect: str = "done", **kw: Any) -> RunResult:
        result = self.connector(company, tenant=tenant, **kw).run()
        assert result.outcome == expect, (result.outcome, result.last_error)
        return result

    def sync(self, company: FakeCompany, *, tenant: Tenant | None = None, timeout: float = 60, **kw: Any) -> RunResult:
        """One Web Connector run, then wait until the outbox has settled."""
        result = self.run(company, tenant=tenant, **kw)
        wait_settled(timeout=timeout)
        return result

    def close(self) -> None:
        for conn in self.connectors:
            conn.http.close()

    # --- Procore side ------------------------------------------------------------

    def company_id(self, tenant: Tenant) -> int:
        return int(tenant.procore_company_id)

    def projects(self, tenant: Tenant) -> set[int]:
        cid = self.company_id(tenant)
        with self.state.lock:
            return {pid for pid, p in self.state.projects.items() if p["company_id"] == cid}

    def vendors(self, tenant: Tenant, list_id: str) -> list[dict[str, Any]]:
        cid = self.company_id(tenant)
        with self.state.lock:
            return [
                dict(v) for v in self.state.vendors.values() if v["company_id"] == cid and v.get("origin_id") == list_id
            ]

    def documents(self, tenant: Tenant) -> dict[str, list[Found]]:
        """Every requisition and direct cost in the tenant's company, by TxnID (origin_id TxnID or TxnID:project)."""
        projects = self.projects(tenant)
        found: dict[str, list[Found]] = defaultdict(list)
        with self.state.lock:
            for r in self.state.requisitions.values():
                if r["project_id"] in projects and r.get("origin_id"):
                    amount = sum((Decimal(str(i["work_completed_this_period"])) for i in r["items"]), Decimal("0"))
                    found[txn_of_origin(str(r["origin_id"]))].append(
                        Found("requisition", r["id"], r["project_id"], amount)
                    )
            for d in self.state.direct_costs.values():
                if d["project_id"] in projects and d.get("origin_id"):
                    amount = sum((Decimal(str(li["amount"])) for li in d["line_items"]), Decimal("0"))
                    found[txn_of_origin(str(d["origin_id"]))].append(
                        Found("direct_cost", d["id"], d["project_id"], amount)
                    )
        return found

    def expected_parts(self, tenant: Tenant, bill: Record) -> dict[int, Decimal]:
        """What QuickBooks says should be in Procore for one bill, per project (derived from the raw qbXML)."""
        jobs = dict(JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", "project_id"))
        default = int(tenant.procore_project_id)
        parts: dict[int, Decimal] = defaultdict(Decimal)
        for line in bill_lines(bill):
            job = (line.get("CustomerRef") or {}).get("FullName", "")
            parts[jobs.get(job, default)] += Decimal(line["Amount"])
        parts[default] += bill_total(bill) - sum(parts.values(), Decimal("0"))
        nonzero = {p: a.quantize(CENT) for p, a in parts.items() if a}
        return nonzero or {default: Decimal("0.00")}

    # --- the verdict -------------------------------------------------------------

    def check(
        self, company: FakeCompany, *, tenant: Tenant | None = None, skip_bills: set[str] | frozenset[str] = frozenset()
    ) -> None:
        """Every QuickBooks record in Procore exactly once, to the cent; deletions gone; the audit agrees."""
        tenant = tenant or self.t.acme
        data = company.data
        docs = self.documents(tenant)
        problems: list[str] = []

        for v in data.vendors:
            found = self.vendors(tenant, v["ListID"])
            if len(found) != 1:
                problems.append(f"vendor {v['ListID']} {v['Name']!r}: {len(found)} in Procore")
                continue
            if found[0]["name"] != v["Name"].strip():
                problems.append(f"vendor {v['ListID']}: Procore name {found[0]['name']!r}, QuickBooks {v['Name']!r}")
            if found[0]["is_active"] != (v.get("IsActive", "true") == "true"):
                problems.append(f"vendor {v['ListID']}: is_active {found[0]['is_active']} in Procore")
        for gone in company.deleted_vendors:
            found = self.vendors(tenant, gone["ListID"])
            if len(found) > 1 or (found and found[0]["is_active"]):
                problems.append(f"deleted vendor {gone['ListID']}: {found}")

        open_ids = {b["TxnID"] for b in data.bills} - set(skip_bills)
        for bill in data.bills:
            if bill["TxnID"] in skip_bills:
                continue
            found_parts = docs.get(bill["TxnID"], [])
            projects = [f.project_id for f in found_parts]
            if len(projects) != len(set(projects)):
                problems.append(f"bill {bill['TxnID']}: duplicated in Procore {found_parts}")
                continue
            got = {f.project_id: f.amount for f in found_parts}
            want = self.expected_parts(tenant, bill)
            if got != want:
                problems.append(f"bill {bill['TxnID']} {bill['RefNumber']}: Procore {got}, QuickBooks {want}")
        for origin, found_parts in docs.items():
            if origin not in open_ids and origin not in skip_bills:
                problems.append(f"{origin}: in Procore but not an open QuickBooks bill {found_parts}")
        assert not problems, "\n".join(problems)
        self.check_audit(company, tenant=tenant, skip_bills=skip_bills)

    def check_audit(
        self, company: FakeCompany, *, tenant: Tenant, skip_bills: set[str] | frozenset[str] = frozenset()
    ) -> None:
        records = {(r.kind, r.qb_id): r for r in SyncRecord.objects.filter(tenant=tenant)}
        problems: list[str] = []
        deleted_bills = {d["TxnID"] for d in company.deleted_bills}
        for kind, rows, key in (
            (RecordKind.VENDOR, company.data.vendors, "ListID"),
            (RecordKind.BILL, company.data.bills, "TxnID"),
        ):
            for row in rows:
                if row[key] in skip_bills:
                    continue
                record = records.get((kind, row[key]))
                if record is None:
                    problems.append(f"{kind} {row[key]}: never received")
                    continue
                if record.state != RecordState.SYNCED or record.edit_sequence != row["EditSequence"]:
                    problems.append(f"{kind} {row[key]}: {record.state} at EditSequence {record.edit_sequence}")
                if kind == RecordKind.BILL and record.amount != bill_total(row):
                    problems.append(f"bill {row[key]}: stored amount {record.amount}, QuickBooks {row['AmountDue']}")
                last = self.last_outcome(record)
                if last not in FINAL_PUSH_CODES:
                    problems.append(f"{kind} {row[key]}: last outcome {last}")
        for txn in deleted_bills:
            record = records.get((RecordKind.BILL, txn))
            if record is None:
                continue  # deleted before we ever read it: nothing to do, nothing to say
            if record.state != RecordState.DELETED or self.last_outcome(record) not in FINAL_DELETE_CODES:
                problems.append(f"deleted bill {txn}: {record.state}, last outcome {self.last_outcome(record)}")
        assert not problems, "\n".join(problems)

    @staticmethod
    def last_outcome(record: SyncRecord) -> str | None:
        event = (
            SyncEvent.objects.filter(record=record, code__startswith="procore.")
            .exclude(code__in=[EventCode.PUSH_ATTEMPT])
            .order_by("at", "pk")
            .last()
        )
        return event.code if event else None

    @staticmethod
    def codes(tenant: Tenant, qb_id: str) -> list[str]:
        return list(
            SyncEvent.objects.filter(tenant=tenant, record__qb_id=qb_id)
            .order_by("at", "pk")
            .values_list("code", flat=True)
        )

    @staticmethod
    def events(tenant: Tenant, code: str) -> list[SyncEvent]:
        return list(SyncEvent.objects.filter(tenant=tenant, code=code).order_by("at", "pk"))

    @staticmethod
    def calls_seen(tenant: Tenant) -> list[dict[str, Any]]:
        """Every HTTP exchange the pusher wrote into the audit trail (SyncEvent.data["calls"])."""
        calls: list[dict[str, Any]] = []
        for data in SyncEvent.objects.filter(tenant=tenant).values_list("data", flat=True):
            calls += (data or {}).get("calls") or []
        return calls


def settle_with_safety_nets(settings: Any, *, stuck_after: float = 3.0, timeout: float = 60) -> dict[str, int]:
    """Wait for the outbox to settle, running the periodic safety nets as production would.

    A job left in flight by a worker that died (or lost its database connection) goes to
    the in-flight reaper; a pending job whose broker message was lost goes to the sweep.
    Production runs them on a schedule (15 min / 1 min); here they run once a job has
    not moved for `stuck_after` seconds. Returns how many jobs each one recovered.
    """
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import JobState
    from procore_sync.services import in_flight_reap, outbox_sweep
    from tests.harness_procore import SETTLED

    settings.PROCORE_IN_FLIGHT_TIMEOUT_SECONDS = stuck_after
    recovered = {"reaped": 0, "resent": 0}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_jobs = PushJob.objects.exclude(state__in=SETTLED)
        if not open_jobs.exists():
            return recovered
        quiet = timezone.now() - timedelta(seconds=stuck_after)
        if not open_jobs.filter(updated_at__gt=quiet).exists():
            recovered["reaped"] += in_flight_reap()
            # Age the quiet pending jobs so the sweep sees them overdue. Rows a worker holds right
            # now are skipped (SKIP LOCKED): they are moving, and waiting on them could deadlock
            # with the worker's own multi-row claim (seen once in CI).
            with transaction.atomic():
                stale = list(
                    open_jobs.filter(state=JobState.PENDING)
                    .select_for_update(skip_locked=True)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                PushJob.objects.filter(pk__in=stale, state=JobState.PENDING).update(
                    not_before=timezone.now() - timedelta(minutes=2)
                )
            if stale:
                recovered["resent"] += outbox_sweep()["resent"]
        time.sleep(0.1)
    wait_settled(timeout=0.1)  # raises with the open jobs listed
    return recovered


def one_job_per_record(tenant: Tenant, op: str) -> None:
    """No record had its push queued twice (coalescing works under the fault)."""
    counts: dict[int, int] = defaultdict(int)
    for record_id in PushJob.objects.filter(tenant=tenant, op=op).values_list("record_id", flat=True):
        counts[record_id] += 1
    assert counts and set(counts.values()) == {1}, dict(counts)


@contextlib.contextmanager
def background(target: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Run `target(stop)` in a thread for the duration of the block (database connection closed after)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            target(stop)
        except BaseException as exc:  # surfaced when the block ends
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors


def when(
    predicate: Callable[[], bool], action: Callable[[], None], *, timeout: float = 30
) -> Callable[[threading.Event], None]:
    """A background target: once `predicate()` holds, do `action()` once."""

    def target(stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            if predicate():
                action()
                return
            time.sleep(0.01)

    return target


__all__ = [
    "SPLIT_JOB",
    "Drill",
    "HookedConnector",
    "background",
    "bill_lines",
    "bill_total",
    "change",
    "dataset",
    "edit_amount",
    "one_job_per_record",
    "settle_with_safety_nets",
    "wait_for",
    "wait_settled",
    "when",
]
