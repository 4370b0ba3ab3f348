"""Push throughput with 1, 2 and 4 Celery worker processes, each tenant inside its own Procore rate limit.

    .venv/bin/python bench/bench_workers.py [--workers 1,2,4] [--tenants 8]
        [--vendors 20] [--bills 150] [--limit 150] [--window 5]

Per worker count, from scratch (PostgreSQL tables flushed, a fresh emulator):
- the Procore emulator runs in its own process (the same EmulatorState and server as
  `python -m peers.procore_emulator`, plus a log of every rate-limit decision with its
  time and OAuth client) with ONE rate window of LIMIT requests per WINDOW seconds
  per OAuth client;
- TENANTS tenants, each connected with its own OAuth client (so each has its own
  Procore rate limit), each stage VENDORS vendors and BILLS bills through
  audit.services.record_receive (audit.qbtypes dataclasses), as the QBWC side does;
- one real `celery -A connector worker --concurrency N` (prefork: N worker processes,
  Redis broker on 127.0.0.1, PostgreSQL) is started and waits until ready;
- the clock starts when every due job's trigger is sent (the real outbox_trigger) and stops
  when no job is pending or in flight.

Printed per worker count: records/s and API calls/s (and the ratio vs 1 worker), the
emulator's CPU, and per tenant: the most requests the emulator accepted in one of its
rate windows vs the limit (and over any sliding WINDOW-second span), and its 429s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_scale import (  # noqa: E402  (after the path is set)
    base_env,
    django_setup,
    pg_database,
    process_tree_cpu,
    redis_flush,
    stop,
)

COMPANY_ID = 4264807


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", default="1,2,4", help="worker process counts to compare")
    p.add_argument("--tenants", type=int, default=8)
    p.add_argument("--vendors", type=int, default=20, help="vendors per tenant")
    p.add_argument("--bills", type=int, default=150, help="bills per tenant")
    p.add_argument("--commitments", type=float, default=0.5, help="share of vendors with a subcontract")
    p.add_argument("--limit", type=int, default=150, help="requests per rate window per OAuth client")
    p.add_argument("--window", type=float, default=5.0, help="rate window in seconds")
    p.add_argument("--db", default="mlc_bench_workers", help="PostgreSQL database to create and drop")
    p.add_argument("--redis-db", type=int, default=9, help="Redis db used as the Celery broker")
    p.add_argument("--timeout", type=float, default=900, help="give up on one worker count after this long")
    p.add_argument("--emulator-child", nargs=2, metavar=("SEED", "WINDOWS"), help=argparse.SUPPRESS)
    return p.parse_args()


# --- the emulator process ---------------------------------------------------------


def emulator_child(seed: str, windows: str) -> None:
    """The emulator, logging each rate-limit decision. stdin "dump" -> JSON log; EOF -> exit."""
    from peers.procore_emulator.__main__ import parse_windows
    from peers.procore_emulator.server import ProcoreEmulator
    from peers.procore_emulator.state import EmulatorState

    state = EmulatorState()
    state.set_rate_limits(parse_windows(windows))
    ids = state.load_seed_file(Path(seed))
    decisions: list[tuple[float, str, bool]] = []
    spend = state.spend

    def logged_spend(key: str) -> tuple[bool, int, int, float]:
        result = spend(key)
        decisions.append((time.time(), key, result[0]))
        return result

    state.spend = logged_spend  # type: ignore[method-assign]
    emulator = ProcoreEmulator(state, host="127.0.0.1", port=0).start()
    print(json.dumps({"url": emulator.url, "ids": ids}), flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "dump":
                print(json.dumps(decisions), flush=True)
    finally:
        emulator.stop()


def emulator_start(seed: Path, limit: int, window: float) -> tuple[subprocess.Popen[str], str, dict[str, int]]:
    cmd = [sys.executable, __file__, "--emulator-child", str(seed), f"{limit}/{window}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("emulator exited before it was ready")
        ready = json.loads(line)
    except BaseException:
        stop(proc)
        raise
    return proc, ready["url"], ready["ids"]


def emulator_decisions(proc: subprocess.Popen[str]) -> list[tuple[float, str, bool]]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("dump\n")
    proc.stdin.flush()
    return [tuple(d) for d in json.loads(proc.stdout.readline())]  # type: ignore[misc]


def make_seed(args: argparse.Namespace, path: Path) -> None:
    with_commitment = int(args.vendors * args.commitments)
    seed = {
        "company": {"id": COMPANY_ID, "name": "Bench Construction"},
        "clients": [
            {"client_id": f"bench-client-{k}", "client_secret": f"bench-secret-{k}"} for k in range(args.tenants)
        ],
        "projects": [{"name": "Default Project"}],
        "cost_codes": [{"code": "01-100", "name": "General"}, {"code": "03-300", "name": "Concrete"}],
        "vendors": [
            {"origin_id": f"T{k}-V{i:04d}", "name": f"Tenant {k} Vendor {i}"}
            for k in range(args.tenants)
            for i in range(with_commitment)
        ],
        "commitments": [
            {
                "project": "Default Project",
                "vendor": f"T{k}-V{i:04d}",
                "lines": [{"cost_code": "03-300", "amount": "1000000.00"}],
            }
            for k in range(args.tenants)
            for i in range(with_commitment)
        ],
    }
    path.write_text(json.dumps(seed))


# --- staging ------------------------------------------------------------------------


def stage(args: argparse.Namespace, project_id: int) -> int:
    """Tenants, OAuth connections, mappings and records. Vendors first, then bills round-robin over tenants."""
    from django.db import transaction

    from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbVendor
    from audit.services import record_receive
    from procore_sync.models import CostCodeMapping
    from procore_sync.tokens import connection_connect
    from tenants.models import Tenant

    tenants = []
    vendors: list[list[QbVendor]] = []
    for k in range(args.tenants):
        tenant = Tenant(slug=f"workers-{k}", name=f"Workers Bench {k}", qbwc_username=f"workers-{k}",
                        procore_company_id=COMPANY_ID, procore_project_id=project_id)  # fmt: skip
        tenant.set_qbwc_password("bench-password")
        tenant.save()
        connection_connect(tenant=tenant, environment=tenant.procore_environment,
                           client_id=f"bench-client-{k}", client_secret=f"bench-secret-{k}")  # fmt: skip
        tenants.append(tenant)
        vs = [
            QbVendor(
                list_id=f"T{k}-V{i:04d}",
                edit_sequence="1",
                name=f"Tenant {k} Vendor {i}",
                company_name=f"Tenant {k} Vendor {i} LLC",
                address=QbAddress(addr1="1 Main St", city="Denver", state="CO", postal_code="80202", country="US"),
                phone="303-555-0100",
                email=f"ap{i}@t{k}.example",
            )
            for i in range(args.vendors)
        ]
        vendors.append(vs)
        CostCodeMapping.objects.bulk_create(
            [CostCodeMapping(tenant=tenant, vendor_list_id=v.list_id, cost_code="03-300") for v in vs]
        )
    records = 0
    with transaction.atomic():
        for tenant, vs in zip(tenants, vendors, strict=True):
            for v in vs:
                record_receive(tenant=tenant, obj=v, session_id=None)
                records += 1
    for start in range(0, args.bills, 100):
        with transaction.atomic():
            for n in range(start, min(start + 100, args.bills)):
                for k, tenant in enumerate(tenants):
                    v = vendors[k][n % len(vendors[k])]
                    amount = Decimal(1000 + (n * 7919 + k * 104729) % 5_000_000) / 100
                    line = QbBillLine(
                        txn_line_id=f"{n}-1", kind="expense", amount=amount, account_name="Subcontractors"
                    )
                    bill = QbBill(txn_id=f"T{k}-B{n:05d}", edit_sequence="1", vendor_list_id=v.list_id, vendor_name=v.name,
                                  txn_date=date(2026, 11, 1), amount_due=amount, ref_number=f"INV-{k}-{n}",
                                  lines=(line,))  # fmt: skip
                    record_receive(tenant=tenant, obj=bill, session_id=None)
                    records += 1
    return records


# --- one worker count -----------------------------------------------------------------


def worker_start(env: dict[str, str], n: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "celery", "-A", "connector", "worker", "--pool", "prefork", "--concurrency", str(n),
        "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"bench-{n}@127.0.0.1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while "ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
    except BaseException:
        stop(proc)  # never leave a worker behind
        raise
    return proc


def wait_done(timeout: float) -> tuple[float, bool]:
    from audit.models import JobState, PushJob

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not PushJob.objects.filter(state__in=[JobState.PENDING, JobState.IN_FLIGHT]).exists():
            return time.monotonic() - start, True
        time.sleep(0.1)
    return time.monotonic() - start, False


def window_stats(decisions: list[tuple[float, str, bool]], client: str, limit: int, window: float) -> dict[str, int]:
    """Accepted requests per emulator window (fixed, as the emulator counts) and per sliding span, and 429s."""
    times = [t for t, key, _ in decisions if key == client]
    accepted = [t for t, key, ok in decisions if key == client and ok]
    fixed_max, started, used = 0, None, 0
    allowed = set(accepted)
    for t in times:  # the emulator's own rule: a window starts at the first request after the last one ended
        if started is None or t >= started + window:
            started, used = t, 0
        used += t in allowed
        fixed_max = max(fixed_max, used)
    sliding_max = max((bisect_left(accepted, t + window) - i for i, t in enumerate(accepted)), default=0)
    return {"requests": len(times), "accepted": len(accepted), "429": len(times) - len(accepted),
            "fixed_max": fixed_max, "sliding_max": sliding_max, "limit": limit}  # fmt: skip


def run_one(args: argparse.Namespace, n: int, env: dict[str, str], var_dir: Path) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from audit.models import JobState, PushJob, SyncRecord
    from audit.outbox import outbox_trigger

    call_command("flush", interactive=False, verbosity=0)
    seed = var_dir / "seed.json"
    make_seed(args, seed)
    emulator: subprocess.Popen[str] | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        emulator, url, ids = emulator_start(seed, args.limit, args.window)
        for env_name in ("SANDBOX", "PRODUCTION"):
            setattr(settings, f"PROCORE_{env_name}_API_URL", url)
            setattr(settings, f"PROCORE_{env_name}_LOGIN_URL", url)
        worker_env = env | {"PROCORE_SANDBOX_API_URL": url, "PROCORE_SANDBOX_LOGIN_URL": url}
        records = stage(args, ids["project:Default Project"])
        connections.close_all()
        redis_flush(env["CELERY_BROKER_URL"])  # staging's triggers: we send our own when the clock starts
        worker = worker_start(worker_env, n, var_dir / f"worker-{n}.log")
        emulator_cpu0, worker_cpu0 = process_tree_cpu(emulator.pid), process_tree_cpu(worker.pid)
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        for job_id in PushJob.objects.filter(state=JobState.PENDING).order_by("pk").values_list("pk", flat=True):
            outbox_trigger(job_id=job_id)
        wall, finished = wait_done(args.timeout)
        wall = time.monotonic() - t0
        emulator_cpu = process_tree_cpu(emulator.pid) - emulator_cpu0
        worker_cpu = process_tree_cpu(worker.pid) - worker_cpu0
        decisions = emulator_decisions(emulator)
        import requests

        snap = requests.get(url + "/_emulator/state", timeout=60).json()
        jobs = {s: PushJob.objects.filter(state=s).count() for s in JobState.values}
        return {
            "workers": n, "records": records, "wall": wall, "finished": finished,
            "calls": sum(1 for _, key, _ok in decisions if key.startswith("bench-client-")),
            "per_tenant": [window_stats(decisions, f"bench-client-{k}", args.limit, args.window) for k in range(args.tenants)],
            "synced": SyncRecord.objects.filter(state="synced").count(), "jobs": jobs,
            "in_procore": len(snap["requisitions"]) + len(snap["direct_costs"]),
            "emulator_cpu": emulator_cpu, "worker_cpu": worker_cpu,
            "load": (load0, os.getloadavg()[0]),
        }  # fmt: skip
    finally:
        stop(worker)
        if emulator is not None and emulator.stdin is not None:
            emulator.stdin.close()
        stop(emulator)


def main() -> int:
    args = parse()
    if args.emulator_child:
        emulator_child(*args.emulator_child)
        return 0
    counts = [int(x) for x in args.workers.split(",")]
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    cores = os.cpu_count() or 1
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp, pg_database(args.db) as db_url:
        env = base_env(database_url=db_url, broker_url=broker, var_dir=tmp)
        try:
            django_setup(env)
            total = args.tenants * (args.vendors + args.bills)
            print(f"{args.tenants} tenants x ({args.vendors} vendors + {args.bills} bills) = {total} records per run; "
                  f"rate limit {args.limit} requests / {args.window:g} s per OAuth client "
                  f"({args.limit / args.window:.0f}/s each, {args.tenants * args.limit / args.window:.0f}/s for all tenants); "
                  f"PostgreSQL + Redis; {cores} cores", flush=True)  # fmt: skip
            for n in counts:
                r = run_one(args, n, env, Path(tmp))
                results.append(r)
                print(f"   ... {n} worker process(es): {r['records'] / r['wall']:.1f} records/s", flush=True)
        finally:
            redis_flush(broker)

    base = results[0]
    print()
    for r in results:
        rate = r["records"] / r["wall"]
        print(f"{r['workers']} worker process(es){'' if r['finished'] else ' (TIMED OUT)'}")
        print(f"   {r['records']} records in {r['wall']:.1f} s = {rate:.1f} records/s "
              f"({rate / (base['records'] / base['wall']):.2f}x the {base['workers']}-worker run); "
              f"{r['calls']} API calls = {r['calls'] / r['wall']:.1f}/s ({r['calls'] / r['records']:.2f} per record)")  # fmt: skip
        print(f"   outcome: {r['synced']} records synced, {r['in_procore']} bills in Procore; jobs {r['jobs']}")
        # PostgreSQL is not counted: Celery's Django fixup closes the connection after every task
        # (no CELERY_DB_REUSE_MAX), so the backends that did the work are gone when we look.
        busy = (r["worker_cpu"] + r["emulator_cpu"]) / r["wall"] / cores * 100
        print(f"   CPU: workers {r['worker_cpu']:.1f} s, emulator {r['emulator_cpu']:.1f} s "
              f"({busy:.0f}% of {cores} cores, PostgreSQL not counted; "
              f"machine load average {r['load'][0]:.1f} -> {r['load'][1]:.1f})")  # fmt: skip
        worst = max(r["per_tenant"], key=lambda t: t["fixed_max"])
        print(f"   per tenant, most requests accepted in one emulator window: "
              f"{', '.join(str(t['fixed_max']) for t in r['per_tenant'])} (limit {worst['limit']}); "
              f"in any sliding {args.window:g} s span: {max(t['sliding_max'] for t in r['per_tenant'])}")  # fmt: skip
        print(f"   answered 429: {', '.join(str(t['429']) for t in r['per_tenant'])} "
              f"(total {sum(t['429'] for t in r['per_tenant'])}); busiest tenant averaged "
              f"{max(t['accepted'] for t in r['per_tenant']) / r['wall']:.1f} requests/s "
              f"(limit {args.limit / args.window:.1f}/s)")  # fmt: skip

    # Every job must have been pushed: a throughput of failures is no throughput.
    ok = all(r["finished"] and r["jobs"].get("done") == r["records"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
