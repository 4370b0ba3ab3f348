"""QBWC endpoint benchmark. Prints, in one run:

1. the cost of a no-change QBWC session (the simulator over real HTTP: 11 SOAP calls,
   four empty queries) relative to the same number of requests to a trivial Django view
   on the same local server;
2. statements per SOAP call of a no-change session and of a first sync (counted as the
   database sees them: SQL, savepoints, BEGIN/COMMIT; tests/statements.py), the simulator
   driving Django's real WSGI stack in this process;
3. the parse: plain lxml, our hardened parse of the bytes, and the hardened parse into QbBills;
4. ingest through the real endpoint (WSGI server, SOAP view, session, batched storage) of a
   first sync of --bills bills in pages of --page-sizes, with the server's peak memory growth
   against the page's size; on PostgreSQL, next to a `COPY` of the same rows into copies of
   the same tables (the floor) and the cost of Django's CONN_HEALTH_CHECKS `SELECT 1`.

    .venv/bin/python bench/bench_qbwc.py [--sessions 20] [--bills 4000] [--page-sizes 500,2000] [--sections 4]

It uses its own SQLite database and broker folder under a temporary VAR_DIR unless
DATABASE_URL / CELERY_BROKER_URL are set. Peak memory is each case's peak RSS above its
own baseline, measured in a fresh child process (Linux: /proc/<pid>/clear_refs + VmHWM),
because libxml2 allocates outside Python's tracemalloc. For the ingest that child is the
server alone (a single-threaded WSGI server); the simulator drives it over HTTP from this
process, so nothing the client holds counts as the server's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-123"


def _django(var_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["VAR_DIR"] = var_dir
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    settings.DEBUG = False
    call_command("migrate", verbosity=0)


def _tenant() -> Any:
    from tenants.models import Tenant

    # Unique per process: a DATABASE_URL database keeps earlier runs' tenants.
    slug = f"bench-{os.getpid()}-{time.time_ns() % 10**6}"
    tenant = Tenant(slug=slug, name="Bench Builders", qbwc_username=slug, procore_company_id=1, procore_project_id=2)
    try:  # the production path: a generated password, HMAC-SHA-256 (tenants/credentials.py)
        tenant.set_qbwc_password(PASSWORD, generated=True)
    except TypeError:  # a checkout from before generated passwords (the bench's "before" runs)
        tenant.set_qbwc_password(PASSWORD)
    tenant.save()
    return tenant


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _quiet_handler() -> type[Any]:
    """Django's dev-server request handler without its access log, with TCP_NODELAY."""
    from django.core.servers.basehttp import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            # Without it, Nagle + delayed ACK add ~40 ms to every small localhost response.
            cast(socket.socket, self.connection).setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:
            pass

    return Quiet


def _serve() -> str:
    """The real Django app (plus one trivial view) on 127.0.0.1, an ephemeral port."""
    from django.conf import settings
    from django.core.servers.basehttp import ThreadedWSGIServer, get_internal_wsgi_application
    from django.http import HttpRequest, HttpResponse
    from django.urls import include, path

    def trivial(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok", content_type="text/plain")

    urls = types.ModuleType("bench_urls")
    urls.urlpatterns = [path("trivial", trivial), path("qbwc/", include("qbwc.urls"))]  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = urls
    settings.ROOT_URLCONF = "bench_urls"

    server = ThreadedWSGIServer(("127.0.0.1", 0), _quiet_handler(), allow_reuse_address=False)
    server.set_app(get_internal_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def bench_sessions(n: int) -> dict[str, float]:
    import requests

    from peers.qbwc_simulator.client import WebConnector
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import load

    tenant = _tenant()
    base = _serve()
    company = FakeCompany(load())
    connector = WebConnector(base + "/qbwc/", tenant.qbwc_username, PASSWORD, company)
    first = connector.run()
    assert first.outcome == "done", first.last_error
    calls = 0
    start = time.perf_counter()
    for _ in range(n):
        result = connector.run()
        assert result.outcome == "done" and result.close_message.startswith("0 vendors"), result
        calls += len(result.calls)
    qbwc_seconds = time.perf_counter() - start
    http = requests.Session()
    start = time.perf_counter()
    for _ in range(calls):
        assert http.get(base + "/trivial", timeout=10).status_code == 200
    trivial_seconds = time.perf_counter() - start
    return {"sessions": n, "calls": calls, "qbwc_s": qbwc_seconds, "trivial_s": trivial_seconds}


def _in_process_connector(username: str, company: Any) -> tuple[Any, Any]:
    """The simulator, its POSTs carried through Django's WSGI stack in this thread (statements counted)."""
    from peers.qbwc_simulator.client import WebConnector
    from tests.statements import InProcessHttp

    connector = WebConnector("/qbwc/", username, PASSWORD, company)
    http = InProcessHttp()
    connector.http = http  # type: ignore[assignment]
    return connector, http


def bench_statements() -> dict[str, Any]:
    """Statements per SOAP call: a first sync of a small company, then a no-change session."""
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build

    tenant = _tenant()
    company = FakeCompany(build(bills=40, vendors=8, changes=False))
    connector, http = _in_process_connector(tenant.qbwc_username, company)
    first = connector.run()
    assert first.outcome == "done", first.last_error
    first_total, first_records = http.total(), 48
    http.reset()
    runs = 10
    for _ in range(runs):
        again = connector.run()
        assert again.outcome == "done" and again.close_message.startswith("0 vendors"), again
    cpu_ms = {m: c / runs * 1000 for m, c in http.cpu.items()}
    http.per_method = {m: counts[: len(counts) // runs] for m, counts in http.per_method.items()}  # type: ignore[assignment]
    per_method = {m: [(c.total, c.sql, c.savepoints, c.transactions) for c in counts]
                  for m, counts in http.per_method.items()}  # fmt: skip
    return {"no_change": per_method, "no_change_total": http.total().total, "cpu_ms": cpu_ms,
            "first_total": first_total.total, "first_records": first_records}  # fmt: skip


def write_bill_response(bills: int, path: Path) -> None:
    """The response QuickBooks gives to our first BillQueryRq (requestID 2, after vendors)."""
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build
    from qbwc import qbxml

    request = qbxml.build_query("bills", request_id="2", version="16.0", since=None, max_returned=bills)
    path.write_text(FakeCompany(build(bills=bills, vendors=30, changes=False)).process(request).response, "utf-8")


def _copy_out(raw: Any, select: str) -> bytes:
    """The rows `select` gives, in COPY's text format (what COPY … FROM STDIN takes back)."""
    buf = io.BytesIO()
    with raw.cursor() as c, c.copy(f"COPY ({select}) TO STDOUT") as cp:
        for chunk in cp:
            buf.write(chunk)
    return buf.getvalue()


def _copy_floor(tenant_id: int) -> dict[str, float]:
    """Seconds to COPY this tenant's stored rows (records, events, outbox rows) into copies of their tables."""
    from django.db import connection

    from audit.models import PushJob, SyncEvent, SyncRecord

    seconds, rows = 0.0, 0
    with connection.cursor() as cur:
        raw = cur.connection
        for model in (SyncRecord, SyncEvent, PushJob):
            table = model._meta.db_table
            data = _copy_out(raw, f"SELECT * FROM {table} WHERE tenant_id = {int(tenant_id)}")
            best = float("inf")
            for _ in range(3):  # best of 3: a floor, and one COPY alone varies by a third run to run
                raw.execute(f"DROP TABLE IF EXISTS bench_copy_{table}")
                raw.execute(f"CREATE TABLE bench_copy_{table} (LIKE {table} INCLUDING ALL)")  # same indexes
                raw.commit()
                start = time.perf_counter()
                with raw.cursor() as c, c.copy(f"COPY bench_copy_{table} FROM STDIN") as cp:
                    cp.write(data)
                raw.commit()
                best = min(best, time.perf_counter() - start)
            seconds += best
            rows += raw.execute(f"SELECT count(*) FROM bench_copy_{table}").fetchone()[0]
            raw.execute(f"DROP TABLE bench_copy_{table}")
            raw.commit()
    return {"copy_s": seconds, "copy_rows": rows}


def _copy_same_tables(tenant_id: int) -> float:
    """Seconds to COPY this tenant's stored rows into the very tables they are in, as another
    tenant's rows: their indexes, foreign keys (checked at COMMIT, as the endpoint's are) and
    the rows already there, committed, best of 3. The issue's floor is "the same rows into the
    same tables"; the empty copies of _copy_floor have the indexes but neither the foreign keys
    (LIKE does not copy them) nor the history. The copied rows are deleted again afterwards."""
    from django.db import connection

    from audit.models import PushJob, SyncEvent, SyncRecord

    other = _tenant()
    with connection.cursor() as cur:
        raw = cur.connection
    tables = [m._meta.db_table for m in (SyncRecord, SyncEvent, PushJob)]
    shift = {t: raw.execute(f"SELECT coalesce(max(id), 0) + 1000 FROM {t}").fetchone()[0] for t in tables}
    record_shift = shift[tables[0]]
    data: dict[str, bytes] = {}
    for table in tables:
        columns = [r[0] for r in raw.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            [table],
        )]  # fmt: skip
        select = ", ".join(
            f"id + {shift[table]}" if c == "id"
            else f"{int(other.pk)}" if c == "tenant_id"
            else f"record_id + {record_shift}" if c == "record_id"
            else c
            for c in columns
        )  # fmt: skip
        data[table] = _copy_out(raw, f"SELECT {select} FROM {table} WHERE tenant_id = {int(tenant_id)}")
    raw.commit()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for table in tables:
            with raw.cursor() as c, c.copy(f"COPY {table} FROM STDIN") as cp:
                cp.write(data[table])
        raw.commit()  # the deferred foreign-key checks run here
        best = min(best, time.perf_counter() - start)
        for table in reversed(tables):
            raw.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [other.pk])
        raw.commit()
    return best


def _health_check_ms() -> float:
    """Milliseconds one CONN_HEALTH_CHECKS probe (`is_usable`: SELECT 1) costs here."""
    from django.db import connection

    connection.ensure_connection()
    start = time.perf_counter()
    for _ in range(500):
        assert connection.is_usable()
    return (time.perf_counter() - start) / 500 * 1000


def child(case: str, bills: int, response_file: Path, page: int) -> dict[str, Any]:
    """One measured parse case in this (fresh) process."""
    from lxml import etree

    from qbwc import qbxml
    from qbwc.xmlsafe import parse_text

    text = response_file.read_text("utf-8")
    data = text.encode("utf-8")
    base = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        if case == "lxml":
            count = len(etree.fromstring(data)[0][0])
        elif case == "hardened":
            count = len(parse_text(text, max_bytes=len(data) + 1)[0][0])
        else:
            count = len(qbxml.parse_response(text, "bills", max_bytes=len(data) + 1).records)
        best = min(best, time.perf_counter() - start)
    peak = _rss_kb("VmHWM") - base
    assert count == bills, (case, count)
    return {"seconds": best, "peak_mb": peak / 1024, "bytes": len(data)}


class _Measured:
    """The server's side of the ingest case: the Django WSGI app, with each SOAP call timed and its
    statements counted, and two bench-only paths: POST /bench/mark resets this process's peak-RSS
    mark (Linux clear_refs 5) and notes its RSS; GET /bench/stats answers what grew since."""

    def __init__(self, app: Any) -> None:
        from collections import defaultdict

        self.app = app
        self.seconds: dict[str, float] = defaultdict(float)
        self.statements = 0
        self.base_kb = 0
        self.stop = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from tests.statements import count_statements

        path = environ.get("PATH_INFO", "")
        if path.startswith("/bench/"):
            if path == "/bench/mark":
                self.seconds.clear()
                self.statements = 0
                self.base_kb = _rss_kb("VmRSS")
                Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
                body = b"{}"
            elif path == "/bench/floor":  # the COPY floors of the rows the run just stored, measured now
                body = json.dumps(_floors(environ.get("QUERY_STRING", "").removeprefix("user="))).encode()
            elif path == "/bench/stats":
                peak_kb = _rss_kb("VmHWM") - self.base_kb
                body = json.dumps({"peak_kb": peak_kb, "seconds": dict(self.seconds),
                                   "statements": self.statements}).encode()  # fmt: skip
            else:  # /bench/stop
                self.stop = True
                body = b"{}"
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        method = environ.get("HTTP_SOAPACTION", "").strip('"').rsplit("/", 1)[-1] or "GET"
        start = time.perf_counter()
        with count_statements() as count:
            # The app's whole response is built here (Django answers with a complete body).
            result = list(self.app(environ, start_response))
        self.seconds[method] += time.perf_counter() - start
        self.statements += count.total
        return result


def _floors(username: str) -> dict[str, Any]:
    """Both COPY floors for the rows one run stored (PostgreSQL only), right after that run, so
    that the endpoint and its floor are measured in the same minute of a shared machine."""
    from django.db import connection

    from tenants.models import Tenant

    if connection.vendor != "postgresql":
        return {}
    tenant = Tenant.objects.get(qbwc_username=username)
    return _copy_floor(tenant.pk) | {"same_tables_s": _copy_same_tables(tenant.pk)}


def serve_ingest(bills: int, page: int, runs: int) -> dict[str, Any]:
    """The server process of the ingest case: the real WSGI stack on its own, single-threaded, so
    its peak RSS is the server's alone (the simulator runs in the parent). Prints its URL and
    tenants (one per run) and serves until /bench/stop; /bench/floor measures a run's stored
    rows against COPY."""
    from django.conf import settings
    from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application
    from django.db import connection

    from audit.models import SyncRecord

    settings.QBWC_MAX_RETURNED = page
    warm = _tenant()
    tenants = [_tenant() for _ in range(runs)]
    tenant = tenants[0]

    app = _Measured(get_internal_wsgi_application())
    server = WSGIServer(("127.0.0.1", 0), _quiet_handler(), allow_reuse_address=False)
    server.set_app(app)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    print(json.dumps({"url": url, "warm": warm.qbwc_username, "users": [t.qbwc_username for t in tenants]}), flush=True)
    while not app.stop:
        server.handle_request()
    server.server_close()
    stored = SyncRecord.objects.filter(tenant=tenant).count()
    out: dict[str, Any] = {"records": stored, "vendor": connection.vendor}
    if connection.vendor == "postgresql":
        out["health_check_ms"] = _health_check_ms()
    return out


def ingest(bills: int, page: int, runs: int) -> dict[str, Any]:
    """The ingest case: the simulator here drives a server process of its own over HTTP.

    Everything the client holds (its company, each response text and SOAP envelope) is in
    this process, so the server's peak RSS growth is the server's own. The first sync runs
    `runs` times (a tenant each, the same company) and the best time counts, as the COPY
    floors are each the best of 3; the peak memory is the largest of the runs' (each above
    the server's RSS just before it).
    """
    import requests

    from peers.qbwc_simulator.client import WebConnector
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build
    from qbwc import qbxml

    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in the finally below) the server's log lines (a pipe nobody reads would fill and block it)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", "serve", "--bills", str(bills), "--page", str(page),
         "--runs", str(runs)],
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
    )  # fmt: skip

    def failed() -> RuntimeError:
        log.seek(0)
        return RuntimeError(f"ingest server failed:\n{log.read()[-3000:]}")

    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise failed()
        info = json.loads(line)
        url = info["url"]
        # Warm up (modules, templates, connection) on another tenant so the peak is the ingest's own.
        warm = WebConnector(
            url + "/qbwc/", info["warm"], PASSWORD, FakeCompany(build(bills=2, vendors=2, changes=False))
        )
        assert warm.run().outcome == "done"
        company = FakeCompany(build(bills=bills, vendors=30, changes=False))
        request = qbxml.build_query("bills", request_id="1", version="16.0", since=None, max_returned=page)
        page_bytes = max(len(company.process(request).response.encode()), 1)
        http = requests.Session()
        each = []
        for user in info["users"]:
            connector = WebConnector(
                url + "/qbwc/", user, PASSWORD, FakeCompany(build(bills=bills, vendors=30, changes=False))
            )
            http.post(url + "/bench/mark", timeout=30).raise_for_status()
            result = connector.run()
            each.append(http.get(url + "/bench/stats", timeout=30).json())
            assert result.outcome == "done", result.last_error
            each[-1]["floors"] = http.get(url + "/bench/floor", params={"user": user}, timeout=600).json()
        http.post(url + "/bench/stop", timeout=30)
        out, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise failed()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    served = cast(dict[str, Any], json.loads(out.strip().splitlines()[-1]))
    assert served["records"] == bills + 30, served
    times = [stats["seconds"]["receiveResponseXML"] for stats in each]
    return served | {
        "seconds": min(times), "all_seconds": times, "peak_mb": max(stats["peak_kb"] for stats in each) / 1024,
        "page_mb": page_bytes / 1024 / 1024, "statements": each[0]["statements"],
        "floors": [stats["floors"] for stats in each],
    }  # fmt: skip


def _run_child(case: str, args: argparse.Namespace, response_file: Path, page: int = 0) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--bills", str(args.bills), "--page", str(page),
         "--response-file", str(response_file)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{case} child failed:\n{out.stderr[-3000:]}")
    return cast(dict[str, Any], json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--bills", type=int, default=4000)
    parser.add_argument("--page-sizes", default="500,2000", help="ingest page sizes (QBWC_MAX_RETURNED)")
    parser.add_argument(
        "--sections", default="1,2,3,4", help="which sections to run (4 includes 5 on PostgreSQL), e.g. --sections 4"
    )
    parser.add_argument("--child", choices=["lxml", "hardened", "parse", "serve"], help=argparse.SUPPRESS)
    parser.add_argument("--page", type=int, default=500, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3, help="ingest runs per page size (the best time counts)")
    parser.add_argument("--response-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sections = {int(n) for n in args.sections.split(",") if n.strip()}

    if args.child:
        with tempfile.TemporaryDirectory(prefix="bench-qbwc-") as var_dir:
            if args.child == "serve":
                _django(var_dir)
                print(json.dumps(serve_ingest(args.bills, args.page, args.runs)))
            else:
                print(json.dumps(child(args.child, args.bills, args.response_file, args.page)))
        return

    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    with tempfile.TemporaryDirectory(prefix="bench-qbwc-") as var_dir:
        _django(var_dir)
        from django.conf import settings
        from django.db import connection

        print(f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split('://')[0]}")
        if sections & {1, 4}:  # section 5 prices the health check per no-change session
            s = bench_sessions(args.sessions)
        if 2 in sections:
            st = bench_statements()
        if 3 in sections:
            response_file = Path(var_dir) / "bills.xml"
            write_bill_response(args.bills, response_file)
            parsed = {case: _run_child(case, args, response_file) for case in ("lxml", "hardened", "parse")}
        pages = [int(p) for p in args.page_sizes.split(",") if p.strip()]
        ingests = {page: ingest(args.bills, page, args.runs) for page in pages} if 4 in sections else {}
    if 1 in sections:
        _print_sessions(s)
    if 2 in sections:
        _print_statements(st, connection.vendor)
    if 3 in sections:
        _print_parse(parsed, args.bills)
    if 4 in sections:
        _print_ingest(ingests, s, args.bills, connection.vendor)
    print(f"\nload average at the end: {Path('/proc/loadavg').read_text().strip()}")


def _print_sessions(s: dict[str, float]) -> None:
    per_call_qbwc = s["qbwc_s"] / s["calls"] * 1000
    per_call_trivial = s["trivial_s"] / s["calls"] * 1000
    print(f"\n1. No-change QBWC session ({s['sessions']} sessions, {s['calls'] // s['sessions']} SOAP calls each)")
    print(f"   QBWC session:   {s['qbwc_s'] / s['sessions'] * 1000:8.1f} ms/session  {per_call_qbwc:6.2f} ms/call")
    print(
        f"   trivial view:   {s['trivial_s'] / s['sessions'] * 1000:8.1f} ms/{s['calls'] // s['sessions']} requests  {per_call_trivial:6.2f} ms/request"
    )
    print(f"   relative cost:  {s['qbwc_s'] / s['trivial_s']:.1f}x the same number of trivial requests")


def _print_statements(st: dict[str, Any], vendor: str) -> None:

    print(f"\n2. Statements per SOAP call (SQL + savepoints + BEGIN/COMMIT; {vendor})")
    print(f"   no-change session: {st['no_change_total']} statements in all; server CPU in this process "
          f"{sum(st['cpu_ms'].values()):.1f} ms per session (Django stack + service, no socket)")  # fmt: skip
    for method, counts in st["no_change"].items():
        totals = [c[0] for c in counts]
        detail = ", ".join(f"{t} ({q} SQL, {sp} savepoints, {tx} transactions)" for t, q, sp, tx in counts[:4])
        print(
            f"   {method:20s} x{len(counts)}: {sum(totals):3d}  {st['cpu_ms'].get(method, 0):5.1f} ms CPU  per call: {detail}"
        )
    print(f"   first sync of {st['first_records']} records: {st['first_total']} statements "
          f"({st['first_total'] / st['first_records']:.1f} per record, session overhead included)")  # fmt: skip


def _print_parse(parsed: dict[str, dict[str, Any]], bills: int) -> None:
    size_mb = parsed["lxml"]["bytes"] / 1024 / 1024
    print(f"\n3. Parsing one {bills}-bill BillQueryRs ({size_mb:.1f} MB), best of 3")
    labels = {"lxml": "plain lxml parse", "hardened": "hardened parse (bytes -> tree)",
              "parse": "hardened parse -> QbBill"}  # fmt: skip
    for case, r in parsed.items():
        print(f"   {labels[case]:32s} {r['seconds'] * 1000:8.0f} ms  {bills / r['seconds']:9.0f} bills/s"
              f"  ({r['seconds'] / parsed['lxml']['seconds']:.1f}x lxml)")  # fmt: skip


def _print_ingest(ingests: dict[int, dict[str, Any]], s: dict[str, float], bills: int, vendor: str) -> None:
    print(f"\n4. First sync of {bills} bills + 30 vendors through the endpoint ({vendor}; server in its own process)")
    for page, r in ingests.items():
        rate = r["records"] / r["seconds"]
        runs = "/".join(f"{t:.2f}" for t in r["all_seconds"])
        line = (f"   pages of {page:5d}: {r['seconds']:6.2f} s in receiveResponseXML (best of {runs})  {rate:7.0f} records/s  "
                f"{r['statements'] / r['records']:.2f} statements/record  peak +{r['peak_mb']:.1f} MB "
                f"= {r['peak_mb'] / r['page_mb']:.1f}x the {r['page_mb']:.2f} MB page")  # fmt: skip
        print(line)
        floors = [f for f in r["floors"] if f]
        if floors:
            # Each run against the floors measured right after it (both share the machine's moment).
            for key, label in (
                ("copy_s", f"COPY of the same {floors[0]['copy_rows']} rows (records, events, outbox) into empty "
                           "copies of the tables (their indexes, no foreign keys)"),
                ("same_tables_s", "COPY of the same rows into the same tables (indexes, foreign keys checked at "
                                  "COMMIT, the rows already there)"),
            ):  # fmt: skip
                ratios = sorted(f[key] / t * 100 for f, t in zip(floors, r["all_seconds"], strict=True))
                per_run = "/".join(f"{f[key]:.2f}" for f in floors)
                print(f"      {label}: {per_run} s = {r['records'] / min(f[key] for f in floors):.0f} records/s at "
                      f"best; the endpoint's runs are {'/'.join(f'{x:.1f}' for x in ratios)}% (lowest first) of it, "
                      f"median {ratios[len(ratios) // 2]:.1f}%; the best run against the best floor "
                      f"{min(f[key] for f in floors) / r['seconds'] * 100:.1f}%")  # fmt: skip
    health = [r["health_check_ms"] for r in ingests.values() if "health_check_ms" in r]
    if health:
        session_ms = s["qbwc_s"] / s["sessions"] * 1000
        checks = s["calls"] // s["sessions"] - 2  # serverVersion/clientVersion touch no database
        print(f"\n5. CONN_HEALTH_CHECKS: one SELECT 1 probe costs {health[0]:.3f} ms here; "
              f"{checks} per session = {health[0] * checks:.2f} ms "
              f"({health[0] * checks / session_ms * 100:.1f}% of a {session_ms:.1f} ms no-change session)")  # fmt: skip


if __name__ == "__main__":
    main()
