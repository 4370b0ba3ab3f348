"""Bench: Procore calls per record, and push wall time against the emulator's rate limit.

    VAR_DIR=var/bench .venv/bin/python bench/bench_push.py [--vendors 2000] [--bills 10000]
        [--limit 1500] [--window 10] [--workers 8] [--split 0.1] [--commitments 0.7]

The emulator runs in its own process (python -m peers.procore_emulator) with one
rate window of LIMIT requests per WINDOW seconds; the pusher runs the real
services (push_job_run: claim, batch vendor sync, id map, payload hash, HTTP
client with rate-limit pacing) on WORKERS threads over a fresh SQLite database.
Celery is left out on purpose: it only carries "run job N" and would measure
the broker, not the push.

Printed figures:
- calls per record for the first load (vendors, bills) and for an unchanged
  re-poll (QuickBooks sends the same versions again) and a forced replay;
- wall time of the first load vs the floor the rate limit allows
  (API calls x WINDOW / LIMIT), and their ratio.
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
    p.add_argument("--replay", type=int, default=500, help="records replayed to measure the hash skip")
    p.add_argument("--profile", action="store_true", help="push on one thread under cProfile and print the top")
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


def main() -> None:
    args = parse()
    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var" / "bench"))
    setup_django(var_dir)
    from django.conf import settings

    from audit.models import JobState, PushJob, SyncRecord
    from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbVendor
    from audit.services import record_replay
    from procore_sync.models import CostCodeMapping, JobProjectMapping
    from procore_sync.tokens import connection_connect
    from tenants.models import Tenant

    seed_path = var_dir / "bench-seed.json"
    make_seed(args, seed_path)
    proc, url, projects = start_emulator(args, seed_path)
    try:
        for env in ("SANDBOX", "PRODUCTION"):
            setattr(settings, f"PROCORE_{env}_API_URL", url)
            setattr(settings, f"PROCORE_{env}_LOGIN_URL", url)
        settings.PROCORE_RATE_WAIT_MAX_SECONDS = args.window * 3
        default_project, second_project = projects["Default Project"], projects["Second Project"]
        tenant = Tenant(slug="bench", name="Bench", qbwc_username="bench", procore_company_id=4264807,
                        procore_project_id=default_project)  # fmt: skip
        tenant.set_qbwc_password("bench-password")
        tenant.save()
        connection_connect(tenant=tenant, environment=tenant.procore_environment,
                           client_id="bench-client", client_secret="bench-secret")  # fmt: skip
        JobProjectMapping.objects.create(tenant=tenant, customer_full_name="Client:Second", project_id=second_project)
        rnd = random.Random(7)
        vendors = [
            QbVendor(list_id=f"BV-{i:05d}", edit_sequence="1", name=f"Bench Vendor {i}", company_name=f"Bench Vendor {i} LLC",
                     address=QbAddress(addr1="1 Main St", city="Denver", state="CO", postal_code="80202", country="US"),
                     phone="303-555-0100", email=f"ap{i}@bench.example")
            for i in range(args.vendors)
        ]
        CostCodeMapping.objects.bulk_create(
            [CostCodeMapping(tenant=tenant, vendor_list_id=v.list_id, cost_code="03-300") for v in vendors]
        )
        bills: list[QbBill] = []
        expected = Decimal("0")
        for n in range(args.bills):
            v = vendors[n % len(vendors)]
            a = Decimal(rnd.randint(100, 5_000_000)) / 100
            lines = [QbBillLine(txn_line_id=f"{n}-1", kind="expense", amount=a, account_name="Subcontractors")]
            if rnd.random() < args.split:
                b_amt = Decimal(rnd.randint(100, 500_000)) / 100
                lines.append(QbBillLine(txn_line_id=f"{n}-2", kind="expense", amount=b_amt, customer_full_name="Client:Second"))
            total = sum((li.amount for li in lines), Decimal("0"))
            expected += total
            bills.append(QbBill(txn_id=f"BT-{n:06d}", edit_sequence="1", vendor_list_id=v.list_id, vendor_name=v.name,
                                txn_date=date(2026, 11, 1), amount_due=total, ref_number=f"INV-{n}", lines=tuple(lines)))  # fmt: skip

        t0 = time.monotonic()
        receive_all(tenant, [*vendors, *bills])
        ingest = time.monotonic() - t0
        records = len(vendors) + len(bills)
        print(f"ingested {len(vendors)} vendors + {len(bills)} bills in {ingest:.1f}s (not measured below)", flush=True)

        c0 = emulator_counts(url)
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            wall = drain(0)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        else:
            wall = drain(args.workers)
        c1 = emulator_counts(url)
        first_calls = api_calls(c0, c1)
        failed = PushJob.objects.filter(state=JobState.FAILED).count()
        waiting = PushJob.objects.filter(state=JobState.WAITING).count()
        synced = SyncRecord.objects.filter(state="synced").count()

        # Unchanged re-poll: QuickBooks sends every record again with the same EditSequence.
        receive_all(tenant, [*vendors, *bills])
        drain(args.workers)
        c2 = emulator_counts(url)
        repoll_calls = api_calls(c1, c2)

        # A forced replay of unchanged records: the payload hash skips every write.
        for record in SyncRecord.objects.order_by("?")[: args.replay]:
            record_replay(record=record, acting_user_id=None)
        drain(args.workers)
        c3 = emulator_counts(url)
        replay_calls = api_calls(c2, c3)

        floor = first_calls * args.window / args.limit
        print()
        print(f"rate limit          : {args.limit} requests / {args.window:g} s  ({args.limit / args.window:.0f}/s)")
        print(f"records             : {records} ({len(vendors)} vendors, {len(bills)} bills), {args.workers} workers")
        print(f"first load          : {first_calls} API calls = {first_calls / records:.2f} per record "
              f"(+{c1['oauth'] - c0['oauth']} OAuth, {c1['429'] - c0['429']} answered 429)")  # fmt: skip
        print(f"  in Procore        : {c1['vendors']} vendors, {c1['requisitions']} requisitions, {c1['direct_costs']} direct costs")
        print(f"  records synced    : {synced} / {records}; jobs failed {failed}, waiting {waiting}")
        print(f"unchanged re-poll   : {repoll_calls} API calls = {repoll_calls / records:.2f} per record")
        print(f"forced replay       : {replay_calls} API calls for {args.replay} records")
        print(f"wall time           : {wall:.1f} s")
        print(f"rate-limit floor    : {floor:.1f} s  (calls x window / limit)")
        print(f"ratio wall / floor  : {wall / floor:.2f}" if floor else "ratio wall / floor  : n/a (under one window)")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"CPU seconds         : pusher {usage.ru_utime + usage.ru_stime:.0f}, emulator {process_cpu(proc.pid):.0f} "
              f"(whole run, {os.cpu_count()} cores)")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
