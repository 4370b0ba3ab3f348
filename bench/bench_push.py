"""Bench: Procore calls per bill for both bill policies, next to the documented floor.

    VAR_DIR=var/bench .venv/bin/python bench/bench_push.py [--vendors 2000] [--bills 10000]
        [--limit 1500] [--window 10] [--workers 8] [--split 0.1] [--commitments 0.7] [--policy both]

Each policy runs against its own emulator process (python -m peers.procore_emulator) with one
rate window of LIMIT requests per WINDOW seconds; the pusher runs the real services
(push_job_run: tenant lane, batch claim, sync actions, id map, payload hash) on WORKERS
threads over a SQLite database. Celery is left out on purpose: it only carries "run job N".

Printed per policy: calls for the first load (per bill, per bill part, per record) beside the
floor the documented endpoints allow, calls by endpoint, an unchanged re-poll, an edit round
with real edits, and the hours a 10 000-bill initial load takes at 3 600 requests/hour.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vendors", type=int, default=2000)
    p.add_argument("--bills", type=int, default=10000)
    p.add_argument("--limit", type=int, default=1500, help="requests per rate window")
    p.add_argument("--window", type=float, default=10.0, help="rate window in seconds")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--split", type=float, default=0.1, help="share of bills split across two projects")
    p.add_argument("--commitments", type=float, default=0.7, help="share of vendors with a subcontract")
    p.add_argument("--policy", default="both", choices=["both", "direct_cost_only", "requisition_only"])
    return p.parse_args()


def setup_django(var_dir: Path) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ["VAR_DIR"] = str(var_dir)
    fresh_sqlite = not os.environ.get("DATABASE_URL")
    if fresh_sqlite:
        db = var_dir / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["CELERY_BROKER_URL"] = "memory://"  # triggers go nowhere; the bench dispatches
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not fresh_sqlite:  # a given (PostgreSQL) database: start from empty tables
        call_command("flush", interactive=False, verbosity=0)


def process_cpu(pid: int) -> float:
    """User+system CPU seconds of another process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_seed(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    with_commitment = int(args.vendors * args.commitments)
    seed = {
        "company": {"id": 4264807, "name": "Bench Construction"},
        "clients": [{"client_id": "bench-client", "client_secret": "bench-secret"}],
        "projects": [{"name": "Default Project"}, {"name": "Second Project"}],
        "cost_codes": [{"code": "01-100", "name": "General"}, {"code": "03-300", "name": "Concrete"}],
        "vendors": [{"origin_id": f"BV-{i:05d}", "name": f"Bench Vendor {i}"} for i in range(with_commitment)],
        "commitments": [
            {"project": project, "vendor": f"BV-{i:05d}", "lines": [{"cost_code": "03-300", "amount": "1000000.00"}]}
            for i in range(with_commitment)
            for project in ("Default Project", "Second Project")
        ],
    }
    path.write_text(json.dumps(seed))
    return seed


def start_emulator(args: argparse.Namespace, seed_path: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, int]]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "peers.procore_emulator", "--port", str(port), "--seed", str(seed_path),
        "--rate-limit", f"{args.limit}/{args.window}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    projects: dict[str, int] = {}
    while True:
        line = proc.stdout.readline().decode()
        if not line:
            raise RuntimeError("emulator exited before it was ready")
        if line.strip().startswith("project "):
            pid, name = line.strip().removeprefix("project ").split(": ", 1)
            projects[name] = int(pid)
        if line.startswith("Point "):
            return proc, f"http://127.0.0.1:{port}", projects


def emulator_counts(url: str) -> dict[str, int]:
    import requests

    snap = requests.get(url + "/_emulator/state", timeout=60).json()
    statuses = snap["statuses"]
    return {
        "total": snap["requests"],
        "oauth": snap["oauth_requests"],
        "429": statuses.get("429", 0),
        "requisitions": len(snap["requisitions"]),
        "direct_costs": len(snap["direct_costs"]),
        "vendors": len(snap["vendors"]),
        **{"path " + k: v for k, v in snap.get("by_endpoint", {}).items()},
    }


def api_calls(before: dict[str, int], after: dict[str, int]) -> int:
    """Calls the push needed: every API request except OAuth and the 429s (those are retries)."""
    return (after["total"] - before["total"]) - (after["oauth"] - before["oauth"]) - (after["429"] - before["429"])


def drain(workers: int) -> float:
    """Run every due job until none is pending or in flight. Returns the wall time."""
    from django.db import connection
    from django.utils import timezone

    from audit.models import JobState, PushJob
    from procore_sync.services import push_job_run

    work: queue.Queue[int | None] = queue.Queue()
    queued: set[int] = set()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                job_id = work.get()
                if job_id is None:
                    return
                push_job_run(job_id=job_id)
                with lock:
                    queued.discard(job_id)
        except BaseException as exc:  # surfaced after the run
            errors.append(exc)
        finally:
            connection.close()

    started = time.monotonic()
    if workers == 0:  # inline, for profiling
        while True:
            due = PushJob.objects.filter(state=JobState.PENDING, not_before__lte=timezone.now()).order_by("pk")
            ids = list(due.values_list("pk", flat=True)[:2000])
            if not ids:
                if not PushJob.objects.filter(state__in=[JobState.PENDING, JobState.IN_FLIGHT]).exists():
                    return time.monotonic() - started
                time.sleep(0.1)
            for job_id in ids:
                push_job_run(job_id=job_id)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    while True:
        open_jobs = PushJob.objects.filter(state__in=[JobState.PENDING, JobState.IN_FLIGHT])
        if not open_jobs.exists():
            break
        due = open_jobs.filter(state=JobState.PENDING, not_before__lte=timezone.now()).order_by("pk")
        with lock:
            for job_id in due.values_list("pk", flat=True)[:2000]:
                if job_id not in queued:
                    queued.add(job_id)
                    work.put(job_id)
        time.sleep(0.2)
        if errors:
            raise errors[0]
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    return time.monotonic() - started


def receive_all(tenant: Any, objs: list[Any]) -> None:
    """Stage records as the QBWC side does, 500 per transaction (ingest is not what we measure)."""
    from django.db import transaction

    from audit.services import record_receive

    for start in range(0, len(objs), 500):
        with transaction.atomic():
            for obj in objs[start : start + 500]:
                record_receive(tenant=tenant, obj=obj, session_id=None)


def run_policy(args: argparse.Namespace, var_dir: Path, policy: str) -> dict[str, Any]:
    """One tenant with `policy` against a fresh emulator: first load, unchanged re-poll, edit round."""
    from django.conf import settings

    from audit.models import JobState, PushJob, SyncRecord
    from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbVendor
    from procore_sync.models import CostCodeMapping, JobProjectMapping
    from procore_sync.payloads import bill_split
    from procore_sync.tokens import connection_connect
    from tenants.models import Tenant

    seed_path = var_dir / "bench-seed.json"
    seed = make_seed(args, seed_path)
    proc, url, projects = start_emulator(args, seed_path)
    try:
        for env in ("SANDBOX", "PRODUCTION"):
            setattr(settings, f"PROCORE_{env}_API_URL", url)
            setattr(settings, f"PROCORE_{env}_LOGIN_URL", url)
        default_project, second_project = projects["Default Project"], projects["Second Project"]
        tenant = Tenant(slug=f"bench-{policy.replace('_', '-')}", name="Bench", qbwc_username=f"bench-{policy}",
                        procore_company_id=4264807, procore_project_id=default_project, bill_target=policy)  # fmt: skip
        tenant.set_qbwc_password("bench-password")
        tenant.save()
        connection_connect(tenant=tenant, environment=tenant.procore_environment,
                           client_id="bench-client", client_secret="bench-secret")  # fmt: skip
        JobProjectMapping.objects.create(tenant=tenant, customer_full_name="Client:Second", project_id=second_project)
        rnd = random.Random(7)
        with_commitment = len(seed["vendors"])
        # Requisitions need a commitment: that policy bills only the vendors that have one.
        billed = args.vendors if policy != "requisition_only" else with_commitment
        vendors = [
            QbVendor(
                list_id=f"BV-{i:05d}",
                edit_sequence="1",
                name=f"Bench Vendor {i}",
                company_name=f"Bench Vendor {i} LLC",
                address=QbAddress(addr1="1 Main St", city="Denver", state="CO", postal_code="80202", country="US"),
                phone="303-555-0100",
                email=f"ap{i}@bench.example",
            )
            for i in range(args.vendors)
        ]
        CostCodeMapping.objects.bulk_create(
            [CostCodeMapping(tenant=tenant, vendor_list_id=v.list_id, cost_code="03-300") for v in vendors]
        )

        def make_bill(n: int, seq: str, extra: Decimal) -> QbBill:
            r = random.Random(n)
            v = vendors[n % billed]
            a = Decimal(r.randint(100, 5_000_000)) / 100 + extra
            lines = [QbBillLine(txn_line_id=f"{n}-1", kind="expense", amount=a, account_name="Subcontractors")]
            if r.random() < args.split:
                b_amt = Decimal(r.randint(100, 500_000)) / 100
                lines.append(
                    QbBillLine(txn_line_id=f"{n}-2", kind="expense", amount=b_amt, customer_full_name="Client:Second")
                )
            total = sum((li.amount for li in lines), Decimal("0"))
            return QbBill(txn_id=f"BT-{n:06d}", edit_sequence=seq, vendor_list_id=v.list_id, vendor_name=v.name,
                          txn_date=date(2026, 11, 1), amount_due=total, ref_number=f"INV-{n}", lines=tuple(lines))  # fmt: skip

        bills = [make_bill(n, "1", Decimal("0")) for n in range(args.bills)]
        jobs_map = {"Client:Second": second_project}
        parts = sum(len(bill_split(b, job_projects=jobs_map, default_project_id=default_project)) for b in bills)
        del rnd
        receive_all(tenant, [*vendors, *bills])
        records = len(vendors) + len(bills)

        c0 = emulator_counts(url)
        wall = drain(args.workers)
        c1 = emulator_counts(url)
        first_calls = api_calls(c0, c1)
        failed = PushJob.objects.filter(tenant=tenant, state=JobState.FAILED).count()
        waiting = PushJob.objects.filter(tenant=tenant, state=JobState.WAITING).count()
        synced = SyncRecord.objects.filter(tenant=tenant, state="synced").count()

        # Unchanged re-poll: QuickBooks sends every record again with the same EditSequence.
        receive_all(tenant, [*vendors, *bills])
        drain(args.workers)
        c2 = emulator_counts(url)
        repoll_calls = api_calls(c1, c2)

        # Edit round: real edits (new EditSequence, amount + 1.00). Subcontractor invoices: Procore
        # lets a non-admin change only the latest invoice of a commitment, so there each vendor's
        # latest bill is edited; direct costs: every bill.
        if policy == "requisition_only":
            latest = {n % billed: n for n in range(args.bills)}
            edited_ns = sorted(latest.values())
        else:
            edited_ns = list(range(args.bills))
        edited = [make_bill(n, "2", Decimal("1.00")) for n in edited_ns]
        edited_parts = sum(
            len(bill_split(b, job_projects=jobs_map, default_project_id=default_project)) for b in edited
        )
        receive_all(tenant, edited)
        drain(args.workers)
        c3 = emulator_counts(url)
        edit_calls = api_calls(c2, c3)
        edit_waiting = PushJob.objects.filter(tenant=tenant, state=JobState.WAITING).count() - waiting
        return {
            "policy": policy, "records": records, "vendors": len(vendors), "bills": len(bills), "parts": parts,
            "first_calls": first_calls, "wall": wall, "synced": synced, "failed": failed, "waiting": waiting,
            "repoll_calls": repoll_calls, "edited": len(edited), "edited_parts": edited_parts,
            "edit_calls": edit_calls, "edit_waiting": edit_waiting, "c1": c1, "c0": c0,
            "with_commitment": with_commitment,
        }  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def floor_calls(r: dict[str, Any], adds: int, projects: int = 2) -> dict[str, float]:
    """The fewest calls the documented endpoints allow for this load (see docs/procore-contract.md).

    Vendors: one vendors/sync per 1 000, and one project-directory add per vendor and project
    not yet there (`adds`: Procore has no batch add). Direct costs: per project, one
    direct_costs/sync and one line_items/sync per 1 000 bill parts. Requisitions: one POST per bill part (there is no sync
    action for invoices), and one schedule-of-values read per commitment (no project-wide list).
    Edits: one line_items/sync per project per 1 000 edited parts; one PATCH per edited invoice.
    """
    vendor_calls = -(-r["vendors"] // 1000) + adds
    if r["policy"] == "direct_cost_only":
        first = vendor_calls + projects * 2 * -(-r["parts"] // (1000 * projects))
        # An edit changes the header (its EditSequence is in origin_data) and the line.
        edit = projects * 2 * -(-r["edited_parts"] // (1000 * projects))
    else:
        first = vendor_calls + r["parts"] + 2 * r["with_commitment"]
        edit = r["edited_parts"]
    return {"first": first, "edit": edit}


def main() -> None:
    args = parse()
    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var" / "bench"))
    setup_django(var_dir)
    policies = ["direct_cost_only", "requisition_only"] if args.policy == "both" else [args.policy]
    results = [run_policy(args, var_dir, p) for p in policies]
    print()
    print(f"rate limit : {args.limit} requests / {args.window:g} s; {args.vendors} vendors, {args.bills} bills, "
          f"{args.split:.0%} split over two projects, {args.workers} workers")  # fmt: skip
    for r in results:
        adds = r["c1"].get("path POST /rest/v1.0/projects/{id}/vendors/{id}/actions/add", 0) - r["c0"].get(
            "path POST /rest/v1.0/projects/{id}/vendors/{id}/actions/add", 0
        )
        floor = floor_calls(r, adds)
        per = r["parts"]
        hours = r["first_calls"] / 3600 * (10_000 / r["bills"])
        print()
        print(f"== {r['policy']} ==")
        print(f"records              : {r['records']} ({r['vendors']} vendors, {r['bills']} bills = {per} bill parts)")
        print(f"  synced {r['synced']}, failed {r['failed']}, waiting {r['waiting']}")
        print(f"first load           : {r['first_calls']} calls = {r['first_calls'] / r['bills']:.4f} per bill, "
              f"{r['first_calls'] / per:.4f} per bill part (floor {floor['first']:.0f} = {floor['first'] / per:.4f}); "
              f"{r['first_calls'] / r['records']:.4f} per record")  # fmt: skip
        paths = {
            k.removeprefix("path "): r["c1"].get(k, 0) - r["c0"].get(k, 0) for k in r["c1"] if k.startswith("path ")
        }
        once = sum(n for k, n in paths.items() if "/actions/add" in k or k.endswith("/vendors") or "vendors/sync" in k
                   or "cost_codes" in k or "_contracts" in k or k.endswith("/projects"))  # fmt: skip
        print(
            "  by endpoint        : "
            + ", ".join(f"{k} {n}" for k, n in sorted(paths.items()) if n and "oauth" not in k)
        )
        print(
            f"  per bill, without the once-per-vendor/project/commitment calls ({once}): "
            f"{(r['first_calls'] - once) / r['bills']:.4f}"
        )
        print(f"unchanged re-poll    : {r['repoll_calls']} calls")
        print(f"edit round           : {r['edited']} bills edited ({r['edited_parts']} parts): {r['edit_calls']} calls = "
              f"{r['edit_calls'] / max(r['edited'], 1):.4f} per bill, {r['edit_calls'] / max(r['edited_parts'], 1):.4f} "
              f"per part (floor {floor['edit']:.0f}); {r['edit_waiting']} waiting")  # fmt: skip
        print(f"10 000-bill load     : {hours:.3f} h = {hours * 60:.1f} min at 3 600 requests/hour")
        print(f"wall time            : {r['wall']:.1f} s (emulator window {args.limit}/{args.window:g}s)")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\nCPU seconds pusher {usage.ru_utime + usage.ru_stime:.0f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
