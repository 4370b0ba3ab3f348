"""QBWC at scale: many tenants' Web Connectors polling at once through the web server on PostgreSQL.

    .venv/bin/python bench/bench_scale.py [--tenants 1000] [--concurrency 64]
        [--web-workers 2] [--vendors 2 --bills 3] [--rounds 2] [--pairs 3] [--generated]

What it does, all on 127.0.0.1:
- creates its own PostgreSQL database (PG_URL/--db, dropped at the end) and migrates it;
- bulk-creates TENANTS tenants, each with its own QBWC login;
- starts the production web server (granian, connector/webserver.py) on the real WSGI app in a subprocess;
- baseline: CONCURRENCY clients send as many GET /healthz (one `SELECT 1`) as the
  sessions below make SOAP calls, through the same server;
- round 1: every tenant runs one full Web Connector session (the qbwc simulator
  over real HTTP+SOAP) against a tiny company file (VENDORS vendors, BILLS bills),
  CONCURRENCY tenants at a time; records are stored, audited and queued for Procore
  (the triggers go to a Redis db nobody consumes; it is flushed at the end);
- round 2 (and later): the same tenants poll again and nothing changed (the steady
  state of a fleet of Web Connectors);
- the peer (bench/peer_qbwc_kit.py, qbwc-kit on uvicorn, in its own venv: --peer-python)
  on the same database: its first poll, then PAIRS no-change rounds of the product and
  of the peer, alternated, each pair's ratios and their median.

Printed per phase: sessions/s, p50/p95 session latency, errors (must be 0), the
server's CPU per session, and the ratio against the trivial-view baseline measured
in the same run (what one session costs in trivial requests). Passwords use the fast
test hasher unless --pbkdf2; the cost production's PBKDF2 adds is measured and
printed separately, because it is a per-login constant unrelated to the connector.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-123"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=64, help="Web Connectors polling at the same time")
    p.add_argument(
        "--web-workers", type=int, default=2, help="web server worker processes (production: GRANIAN_WORKERS)"
    )
    p.add_argument("--web-threads", type=int, default=1, help="threads running Django in each worker")
    p.add_argument("--vendors", type=int, default=2, help="vendors in each tenant's company file")
    p.add_argument("--bills", type=int, default=3, help="bills in each tenant's company file (0/0: empty)")
    p.add_argument("--rounds", type=int, default=2, help="sessions per tenant; rounds after the first are no-change")
    p.add_argument(
        "--pairs", type=int, default=3,
        help="no-change rounds of the product and of the peer, alternated, for the comparison (median of pairs)",
    )  # fmt: skip
    p.add_argument("--db", default="mlc_bench_scale", help="PostgreSQL database to create and drop")
    p.add_argument("--redis-db", type=int, default=8, help="Redis db for the (unconsumed) push triggers")
    p.add_argument(
        "--pbkdf2", action="store_true", help="hash QBWC passwords with production PBKDF2 (a chosen password)"
    )
    p.add_argument(
        "--generated", action="store_true",
        help="production credentials: generated QBWC passwords, HMAC-SHA-256 (tenants/credentials.py), no test hasher",
    )  # fmt: skip
    p.add_argument(
        "--peer-python",
        default=os.environ.get("BENCH_PEER_PYTHON", "/tmp/bench-venv/bin/python"),
        help="python of a venv with qbwc-kit, fastapi, uvicorn, psycopg, lxml, orjson (bench/peer_qbwc_kit.py); '' to skip",
    )
    return p.parse_args()


# --- shared plumbing (bench_workers imports these) ------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1 for the run; dropped afterwards. Yields its URL."""
    import psycopg

    assert "127.0.0.1" in PG_URL or "localhost" in PG_URL, "benchmarks only target this machine"

    def admin(sql: str) -> None:
        with psycopg.connect(PG_URL + "/postgres", autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_flush(url: str) -> None:
    import redis

    assert url.startswith("redis://127.0.0.1:")
    redis.Redis.from_url(url).flushdb()


def base_env(*, database_url: str, broker_url: str, var_dir: str, fast_hasher: bool = True) -> dict[str, str]:
    """Production settings module with the values a local run needs, for every process of the bench."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="connector.settings",
        DEBUG="0",
        SECRET_KEY="bench-secret-key-that-is-long-enough-0123456789",
        FIELD_ENCRYPTION_KEYS="bench-field-key-0123456789abcdef",
        SESSION_COOKIE_SECURE="0",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        VAR_DIR=var_dir,
        LOG_LEVEL="WARNING",
        QBWC_MIN_SECONDS_BETWEEN_RUNS="0",
        # Connections live through the run, so PostgreSQL backend CPU can be read per phase.
        DATABASE_CONN_MAX_AGE="3600",
        PYTHONPATH=str(ROOT),
    )
    if fast_hasher:
        env["PASSWORD_HASHERS_FAST"] = "1"
    else:
        env.pop("PASSWORD_HASHERS_FAST", None)
    return env


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def process_tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and its live children (Linux /proc)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def pg_backends_cpu(db_url: str) -> dict[int, float]:
    """CPU seconds per PostgreSQL backend serving our database (same machine, /proc), by pid."""
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_URL + "/postgres", autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])]
    return {pid: process_tree_cpu(pid) for pid in pids}


def hot_updates(db_url: str) -> str:
    """How many of the session and mark row updates PostgreSQL made heap-only (HOT: no index touched)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")  # this backend's counts; the others flush within a second
        time.sleep(1.5)
        rows = conn.execute(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname IN ('qbwc_qbwcsession', 'qbwc_watermark') ORDER BY relname"
        ).fetchall()
    return "; ".join(f"{name}: {hot} of {upd} updates HOT ({hot / max(upd, 1) * 100:.0f}%)" for name, upd, hot in rows)


def pg_cpu_since(db_url: str, before: dict[int, float]) -> float:
    """Backend CPU spent since `before` (a backend that exited meanwhile is missed: see CONN_MAX_AGE)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in pg_backends_cpu(db_url).items())


def stop(proc: subprocess.Popen[Any] | None) -> None:
    """Terminate a subprocess we started (and wait); kill it if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --- this bench ------------------------------------------------------------------


def tenants_create(n: int, *, fast_hasher: bool, generated: bool = False) -> list[str]:
    """N tenants in one bulk insert; one password hash shared by all (hashing is not measured here)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

    from tenants.models import Tenant

    if generated:
        from tenants.credentials import hash_generated

        hashed = hash_generated(PASSWORD)
    else:
        hashed = make_password(PASSWORD) if fast_hasher else PBKDF2PasswordHasher().encode(PASSWORD, "benchsalt1234567")
    rows = [
        Tenant(
            slug=f"scale-{i:05d}",
            name=f"Scale Builders {i:05d}",
            qbwc_username=f"scale-{i:05d}",
            qbwc_password=hashed,
            procore_company_id=1,
            procore_project_id=2,
        )
        for i in range(n)
    ]
    Tenant.objects.bulk_create(rows, batch_size=1000)
    return [t.qbwc_username for t in rows]


def pbkdf2_ms() -> tuple[float, int]:
    """CPU milliseconds one production PBKDF2 password check costs here, and its iterations."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    start = time.process_time()
    for _ in range(3):
        assert hasher.verify(PASSWORD, encoded)
    return (time.process_time() - start) / 3 * 1000, hasher.iterations


def web_start(env: dict[str, str], workers: int, threads: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import requests

    from connector.webserver import server_args

    port = free_port()
    cmd = [sys.executable, "-m", "granian", *server_args(host="127.0.0.1", port=port, workers=workers, threads=threads)]
    # A file, not a pipe nobody reads: a full pipe would stall the server mid-benchmark.
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the web server exited:\n" + log.read_text(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not answer /healthz within 120 s")
            try:
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or workers still booting
                time.sleep(0.2)
        # Every worker loads the app and opens its database connection before we measure.
        with ThreadPoolExecutor(workers * 4) as pool:
            list(pool.map(lambda _: requests.get(base + "/healthz", timeout=60), range(workers * 40)))
    except BaseException:
        stop(proc)  # never leave a server behind
        raise
    return proc, base


class Phase:
    """Wall time, latencies and errors of CONCURRENCY clients doing N jobs; server CPU alongside."""

    def __init__(self, name: str, server_pid: int, db_url: str, server: str = "web server") -> None:
        self.name, self.server_pid, self.db_url, self.server = name, server_pid, db_url, server
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.units = 0  # SOAP calls (sessions) or requests (baseline)
        self.lock = threading.Lock()

    def run(self, jobs: list[Any], concurrency: int, one: Callable[[Any], int]) -> Phase:
        def timed(job: Any) -> None:
            start = time.perf_counter()
            try:
                units = one(job)
            except Exception as exc:  # counted and shown, never hidden
                with self.lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                return
            with self.lock:
                self.latencies.append(time.perf_counter() - start)
                self.units += units

        # Backends of connections opened during the phase are missed; the web server's are persistent and warm.
        cpu0, client0, pg0 = process_tree_cpu(self.server_pid), time.process_time(), pg_backends_cpu(self.db_url)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(timed, jobs))
        self.wall = time.perf_counter() - start
        self.server_cpu = process_tree_cpu(self.server_pid) - cpu0
        self.client_cpu = time.process_time() - client0
        self.pg_cpu = pg_cpu_since(self.db_url, pg0)
        self.count = len(jobs)
        return self


def session_runner(base: str, dataset: Any, path: str = "/qbwc/") -> Callable[[str], int]:
    from peers.qbwc_simulator.client import WebConnector
    from peers.qbwc_simulator.company import FakeCompany

    def one(username: str) -> int:
        connector = WebConnector(base.rstrip("/") + "/" + path.strip("/") + "/", username, PASSWORD,
                                 FakeCompany(dataset), timeout=120)  # fmt: skip
        try:
            result = connector.run()
        finally:
            connector.http.close()
        if result.outcome != "done":
            raise RuntimeError(f"{username}: outcome {result.outcome!r} {result.auth} {result.last_error[:200]}")
        return len(result.calls)

    return one


def baseline_runner(base: str) -> Callable[[int], int]:
    import requests

    def one(n: int) -> int:
        # One client sending `n` requests, like one session's `n` SOAP calls.
        with requests.Session() as http:
            for _ in range(n):
                r = http.get(base + "/healthz", timeout=60)
                if r.status_code != 200:
                    raise RuntimeError(f"/healthz answered {r.status_code}")
        return n

    return one


def report(phase: Phase, baseline: Phase | None, cores: int) -> None:
    rate = phase.count / phase.wall
    lat = sorted(phase.latencies)
    print(f"\n{phase.name}")
    print(f"   {phase.count} sessions in {phase.wall:.1f} s = {rate:.1f} sessions/s "
          f"({phase.units / phase.wall:.0f} SOAP calls/s, {phase.units / max(phase.count, 1):.1f} calls/session)")  # fmt: skip
    print(f"   session latency p50 {pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms, "
          f"max {max(lat, default=0) * 1000:.0f} ms")  # fmt: skip
    print(f"   errors: {len(phase.errors)}" + (f"  first: {phase.errors[0]}" if phase.errors else ""))
    busy = (phase.server_cpu + phase.client_cpu + phase.pg_cpu) / phase.wall / cores * 100
    print(f"   CPU per session: {phase.server} {phase.server_cpu / max(phase.count, 1) * 1000:.1f} ms, "
          f"PostgreSQL {phase.pg_cpu / max(phase.count, 1) * 1000:.1f} ms, "
          f"clients {phase.client_cpu / max(phase.count, 1) * 1000:.1f} ms ({busy:.0f}% of {cores} cores)")  # fmt: skip
    if baseline is not None:
        trivial_rate = baseline.units / baseline.wall
        print(f"   vs baseline: one session costs {trivial_rate / rate:.1f} trivial requests of wall time; "
              f"{phase.server_cpu / max(phase.count, 1) / (baseline.server_cpu / baseline.units):.1f}x "
              "the server CPU of one trivial request")  # fmt: skip


def peer_start(python: str, db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The qbwc-kit peer (bench/peer_qbwc_kit.py) on uvicorn, one process, on the same database."""
    import requests

    port = free_port()
    cmd = [python, str(ROOT / "bench" / "peer_qbwc_kit.py"), "--port", str(port), "--db", db_url]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("peer exited:\n" + log.read_text(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError("peer did not answer /healthz within 60 s")
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
    except BaseException:
        stop(proc)
        raise
    return proc, base


def peer_ready(
    args: argparse.Namespace, usernames: list[str], dataset: Any, db_url: str, var_dir: str
) -> tuple[subprocess.Popen[bytes], Callable[[str], int]] | None:
    """The peer started on the same database, its first poll done (it creates the peer's marks)."""
    if not args.peer_python or not Path(args.peer_python).exists():
        print(f"\npeer: skipped (no bench venv at {args.peer_python!r}; see bench/peer_qbwc_kit.py)")
        return None
    sys.path.insert(0, str(ROOT / "bench"))
    from peer_qbwc_kit import peer_setup

    peer_setup(db_url, usernames, PASSWORD)
    peer, base = peer_start(args.peer_python, db_url, Path(var_dir) / "peer.log")
    try:
        run = session_runner(base.removesuffix("/") + "/", dataset, path="qbwc/")
        Phase("peer first poll", peer.pid, db_url).run(usernames, args.concurrency, run)
    except BaseException:
        stop(peer)
        raise
    return peer, run


def compare(
    args: argparse.Namespace,
    usernames: list[str],
    ours: tuple[int, Callable[[str], int]],
    peer: tuple[int, Callable[[str], int]],
    db_url: str,
) -> list[tuple[Phase, Phase]]:
    """PAIRS no-change rounds of the product and of the peer, alternated (product first).

    Both servers stay up; the one not polled is idle. Alternating spreads whatever else the
    machine does over both sides alike, where one block of product rounds then one of peer
    rounds gave ratios from 1.46x to 1.96x for the same code on this 2-core machine.
    """
    pairs = []
    for n in range(1, args.pairs + 1):
        product = Phase(f"pair {n}: product", ours[0], db_url).run(usernames, args.concurrency, ours[1])
        other = Phase(f"pair {n}: peer", peer[0], db_url, server="uvicorn").run(usernames, args.concurrency, peer[1])
        pairs.append((product, other))
        print(f"   ... pair {n}: product {product.count / product.wall:.1f} sessions/s, "
              f"peer {other.count / other.wall:.1f}", flush=True)  # fmt: skip
    return pairs


def _per_session(phase: Phase) -> tuple[float, float]:
    """(server CPU, PostgreSQL CPU) per session, in ms."""
    return phase.server_cpu / max(phase.count, 1) * 1000, phase.pg_cpu / max(phase.count, 1) * 1000


def report_pairs(args: argparse.Namespace, pairs: list[tuple[Phase, Phase]]) -> None:
    credentials = (
        "production PBKDF2" if args.pbkdf2
        else "production generated password (HMAC-SHA-256)" if args.generated else "fast test hasher"
    )  # fmt: skip
    print(f"\nProduct vs peer (qbwc-kit on uvicorn, 1 process, marks in PostgreSQL), no-change poll, "
          f"{args.concurrency} concurrent, {len(pairs)} alternated pairs ({credentials} for the product; "
          "the peer checks an HMAC-SHA-256)")  # fmt: skip
    rates, cpus, totals = [], [], []
    for n, (ours, peer) in enumerate(pairs, 1):
        (ours_app, ours_pg), (peer_app, peer_pg) = _per_session(ours), _per_session(peer)
        rate = ours.count / ours.wall / (peer.count / peer.wall)
        rates.append(rate)
        cpus.append(ours_app / max(peer_app, 0.01))
        totals.append((ours_app + ours_pg) / max(peer_app + peer_pg, 0.01))
        print(f"   pair {n}: sessions/s {ours.count / ours.wall:.1f} vs {peer.count / peer.wall:.1f} = {rate:.2f}x; "
              f"server CPU per session {ours_app:.1f} vs {peer_app:.1f} ms = {cpus[-1]:.2f}x; "
              f"with PostgreSQL {ours_app + ours_pg:.1f} vs {peer_app + peer_pg:.1f} ms = {totals[-1]:.2f}x; "
              f"errors {len(ours.errors)} / {len(peer.errors)}")  # fmt: skip
    best = max(pairs, key=lambda pair: pair[0].count / pair[0].wall)[0]
    print(f"   median of the pairs: sessions/s {statistics.median(rates):.2f}x the peer; server CPU per session "
          f"{statistics.median(cpus):.2f}x; with PostgreSQL {statistics.median(totals):.2f}x")  # fmt: skip
    print(f"   tenants at 15-minute polls (sessions/s x 900): product {best.count / best.wall * 900:.0f} in its "
          f"best round, {min(p.count / p.wall for p, _ in pairs) * 900:.0f} in its worst")  # fmt: skip
    print(
        "   statements per session: the peer sends 8 (4 mark reads, 4 upserts, autocommit) plus its "
        "login SELECT; the product's are printed by bench_qbwc.py (section 2)"
    )


def main() -> int:
    args = parse()
    ok = False
    cores = os.cpu_count() or 1
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as var_dir, pg_database(args.db) as db_url:
        production = args.pbkdf2 or args.generated
        env = base_env(database_url=db_url, broker_url=broker, var_dir=var_dir, fast_hasher=not production)
        try:
            django_setup(env)
            from audit.models import SyncRecord
            from peers.qbwc_simulator.dataset import Dataset, build
            from qbwc.models import QbwcSession

            redis_flush(broker)
            t0 = time.perf_counter()
            usernames = tenants_create(args.tenants, fast_hasher=not production, generated=args.generated)
            print(f"{args.tenants} tenants created in {time.perf_counter() - t0:.1f} s (bulk insert); "
                  f"PostgreSQL db {args.db}; web server (granian) {args.web_workers} workers x {args.web_threads} "
                  f"threads; {args.concurrency} concurrent Web Connectors; {cores} cores; "
                  f"load average {Path('/proc/loadavg').read_text().strip()}", flush=True)  # fmt: skip
            dataset = (
                build(bills=args.bills, vendors=max(args.vendors, 1), changes=False)
                if args.bills or args.vendors
                else Dataset(company_name="Empty Company")
            )
            if not args.vendors and args.bills:
                dataset.vendors = []
            proc, base = web_start(env, args.web_workers, args.web_threads, Path(var_dir) / "web.log")
            run_session = session_runner(base, dataset)

            # Calibrate: how many SOAP calls one session makes, so the baseline sends as many requests.
            calls_per_session = 11
            phases: list[Phase] = []
            for round_no in range(1, args.rounds + 1):
                what = (
                    f"first sync ({len(dataset.vendors)} vendors + {len(dataset.bills)} bills each)"
                    if round_no == 1 and (dataset.vendors or dataset.bills)
                    else "no-change poll"
                )
                name = f"{len(phases) + 1}. Round {round_no}: {args.tenants} tenants, one session each, {what}"
                phase = Phase(name, proc.pid, db_url).run(usernames, args.concurrency, run_session)
                phases.append(phase)
                if phase.latencies:
                    calls_per_session = round(phase.units / len(phase.latencies))
                print(f"   ... {name.split(': ', 1)[1]}: {phase.count / phase.wall:.1f} sessions/s", flush=True)

            per_client = [calls_per_session] * args.tenants
            baseline = Phase("Baseline: GET /healthz", proc.pid, db_url).run(
                per_client, args.concurrency, baseline_runner(base)
            )
            lat = sorted(baseline.latencies)
            print(f"\nBaseline: {args.concurrency} clients, {baseline.units} GET /healthz (SELECT 1) in "
                  f"{calls_per_session}-request runs through the same web server")  # fmt: skip
            print(f"   {baseline.units / baseline.wall:.0f} requests/s; a {calls_per_session}-request run: "
                  f"p50 {pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms; errors: {len(baseline.errors)}; "
                  f"server CPU {baseline.server_cpu / max(baseline.units, 1) * 1000:.2f} ms/request")  # fmt: skip
            for phase in phases:
                report(phase, baseline, cores)

            ready = peer_ready(args, usernames, dataset, db_url, var_dir)
            errors_peer = 0
            if ready is not None:
                peer_proc, peer_run = ready
                try:
                    pairs = compare(args, usernames, (proc.pid, run_session), (peer_proc.pid, peer_run), db_url)
                finally:
                    stop(peer_proc)
                for ours, peer in pairs:
                    report(ours, baseline, cores)
                    report(peer, None, cores)
                report_pairs(args, pairs)
                phases += [ours for ours, _ in pairs]
                errors_peer = sum(len(peer.errors) for _, peer in pairs)

            print(f"\nPostgreSQL heap-only updates: {hot_updates(db_url)}")
            sessions = QbwcSession.objects.count()
            records = SyncRecord.objects.count()
            expected = args.tenants * (len(dataset.vendors) + len(dataset.bills))
            errors = sum(len(p.errors) for p in [*phases, baseline]) + errors_peer
            rounds = len(phases)  # the product's rounds, the compared ones included
            ok = errors == 0 and sessions == args.tenants * rounds and records == expected
            print(f"\nstored: {sessions} QBWC sessions (expected {args.tenants * rounds}), "
                  f"{records} sync records (expected {expected})")  # fmt: skip
            if not production:
                ms, iterations = pbkdf2_ms()
                print(f"note: passwords used the fast test hasher. Production PBKDF2 ({iterations} iterations) "
                      f"adds {ms:.0f} ms CPU per authenticate here: alone it caps logins at "
                      f"{cores / ms * 1000:.1f}/s on {cores} cores (a fleet polling every 15 min "
                      f"handles {cores / ms * 1000 * 900:.0f} tenants on that budget)")  # fmt: skip
            print(
                f"machine load average at the end: {Path('/proc/loadavg').read_text().strip()} on {cores} cores "
                "(other work on the machine slows every phase alike)"
            )
            usage = resource.getrusage(resource.RUSAGE_SELF)
            print(f"bench process CPU {usage.ru_utime + usage.ru_stime:.0f} s in total")
        finally:
            stop(proc)
            try:
                redis_flush(broker)
            except Exception as exc:  # the Redis db is ours; report and go on dropping the database
                print(f"could not flush {broker}: {exc}", file=sys.stderr)

    return 0 if ok else 1  # a figure is only worth printing when every session worked


if __name__ == "__main__":
    sys.exit(main())
