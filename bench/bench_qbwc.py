"""QBWC endpoint benchmark. Prints, in one run:

1. the cost of a no-change QBWC session (the simulator over real HTTP: 11 SOAP calls,
   four empty queries) relative to the same number of requests to a trivial Django view
   on the same local server;
2. the throughput and peak memory of ingesting a 10 000-bill qbXML response (parse,
   store, audit event and outbox row per bill, raw response kept) relative to a plain
   lxml parse of the same bytes.

    .venv/bin/python bench/bench_qbwc.py [--sessions 20] [--bills 10000]

It uses its own SQLite database and broker folder under a temporary VAR_DIR unless
DATABASE_URL / CELERY_BROKER_URL are set. Peak memory is each case's peak RSS above its
own baseline, measured in a fresh child process (Linux: /proc/self/clear_refs + VmHWM),
because libxml2 allocates outside Python's tracemalloc.
"""

from __future__ import annotations

import argparse
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
    tenant = Tenant(slug=slug, name="Bench Builders", qbwc_username=slug,
                    procore_company_id=1, procore_project_id=2)
    tenant.set_qbwc_password(PASSWORD)
    tenant.save()
    return tenant


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _serve() -> str:
    """The real Django app (plus one trivial view) on 127.0.0.1, an ephemeral port."""
    from django.conf import settings
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application
    from django.http import HttpRequest, HttpResponse
    from django.urls import include, path

    def trivial(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok", content_type="text/plain")

    urls = types.ModuleType("bench_urls")
    urls.urlpatterns = [path("trivial", trivial), path("qbwc/", include("qbwc.urls"))]  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = urls
    settings.ROOT_URLCONF = "bench_urls"

    class Quiet(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            # Without it, Nagle + delayed ACK add ~40 ms to every small localhost response.
            cast(socket.socket, self.connection).setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
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


def write_bill_response(bills: int, path: Path) -> None:
    """The response QuickBooks gives to our first BillQueryRq (requestID 2, after vendors)."""
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build
    from qbwc import qbxml

    request = qbxml.build_query("bills", request_id="2", version="16.0", since=None, max_returned=bills)
    path.write_text(FakeCompany(build(bills=bills, vendors=30, changes=False)).process(request).response, "utf-8")


def child(case: str, bills: int, response_file: Path) -> dict[str, float]:
    """One measured case in this (fresh) process."""
    from lxml import etree

    from qbwc import qbxml

    if case == "ingest":
        from django.conf import settings

        from qbwc.login import session_authenticate
        from qbwc.models import QbwcSession
        from qbwc.session import session_receive_response, session_send_request

        settings.QBWC_MAX_RETURNED = bills  # one page holds the whole response
        settings.QBWC_MAX_BODY_BYTES = 500 * 1024 * 1024
        settings.QBWC_MAX_RESPONSE_BYTES = 500 * 1024 * 1024  # the session checks the answer size too (issue 10)
        tenant = _tenant()
        ticket = session_authenticate(username=tenant.qbwc_username, password=PASSWORD)[0]
        empty = (
            '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><VendorQueryRs requestID="1" statusCode="1" '
            'statusSeverity="Info" statusMessage="A query request did not find a matching object"/>'
            "</QBXMLMsgsRs></QBXML>"
        )
        session_send_request(ticket=ticket, hcp_response="", company_file="", major="16", minor="0")
        session_receive_response(ticket=ticket, response=empty, hresult="", message="")
        session_send_request(ticket=ticket, hcp_response="", company_file="", major="16", minor="0")
    text = response_file.read_text("utf-8")
    data = text.encode("utf-8")
    base = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
    start = time.perf_counter()
    if case == "lxml":
        root = etree.fromstring(data)
        count = len(root[0][0])
    elif case == "parse":
        count = len(qbxml.parse_response(text, "bills", max_bytes=len(data) + 1).records)
    else:
        progress = session_receive_response(ticket=ticket, response=text, hresult="", message="")
        count = QbwcSession.objects.get(tenant=tenant).bills_received
        assert progress > 0, progress
    seconds = time.perf_counter() - start
    peak = _rss_kb("VmHWM") - base
    assert count == bills, (case, count)
    return {"seconds": seconds, "peak_mb": peak / 1024, "bytes": len(data)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--bills", type=int, default=10_000)
    parser.add_argument("--child", choices=["lxml", "parse", "ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--response-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        with tempfile.TemporaryDirectory(prefix="bench-qbwc-") as var_dir:
            if args.child == "ingest":
                _django(var_dir)
            print(json.dumps(child(args.child, args.bills, args.response_file)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-qbwc-") as var_dir:
        _django(var_dir)
        from django.conf import settings
        from django.db import connection

        print(f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split('://')[0]}")
        s = bench_sessions(args.sessions)
        response_file = Path(var_dir) / "bills.xml"
        write_bill_response(args.bills, response_file)
        results = {}
        for case in ("lxml", "parse", "ingest"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, "--bills", str(args.bills),
                 "--response-file", str(response_file)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )
            results[case] = json.loads(out.stdout.strip().splitlines()[-1])
    per_call_qbwc = s["qbwc_s"] / s["calls"] * 1000
    per_call_trivial = s["trivial_s"] / s["calls"] * 1000
    print(f"\n1. No-change QBWC session ({s['sessions']} sessions, {s['calls'] // s['sessions']} SOAP calls each)")
    print(f"   QBWC session:   {s['qbwc_s'] / s['sessions'] * 1000:8.1f} ms/session  {per_call_qbwc:6.2f} ms/call")
    print(f"   trivial view:   {s['trivial_s'] / s['sessions'] * 1000:8.1f} ms/{s['calls'] // s['sessions']} requests  {per_call_trivial:6.2f} ms/request")
    print(f"   relative cost:  {s['qbwc_s'] / s['trivial_s']:.1f}x the same number of trivial requests")

    size_mb = results["lxml"]["bytes"] / 1024 / 1024
    print(f"\n2. Ingesting one {args.bills}-bill BillQueryRs ({size_mb:.1f} MB)")
    labels = {
        "lxml": "plain lxml parse",
        "parse": "hardened parse -> QbBill",
        "ingest": "full ingest (parse+store+audit+outbox)",
    }
    for case, r in results.items():
        rate = args.bills / r["seconds"]
        print(f"   {labels[case]:40s} {r['seconds']:7.2f} s  {rate:9.0f} bills/s  peak +{r['peak_mb']:6.1f} MB"
              f"  ({r['seconds'] / results['lxml']['seconds']:.0f}x time, "
              f"{r['peak_mb'] / max(results['lxml']['peak_mb'], 0.1):.1f}x memory of lxml)")


if __name__ == "__main__":
    main()
