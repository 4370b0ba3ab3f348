"""Metrics pooled across processes: two web worker processes and a worker-like process, one scrape.

Real processes, real HTTP: SOAP calls spread over the web server's (granian's) worker processes, a separate process
(what a Celery worker process is to the web server) records Procore calls through the same
helpers, and /metrics sums every process's files in PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from peers.qbwc_simulator.client import envelope
from tests.connector.servers import ROOT, manage, processes, product_env

pytestmark = pytest.mark.slow
TOKEN = "multiprocess-token-0123456789"
CALLS = 24

OTHER_PROCESS = """
import django
django.setup()
from audit.metrics import procore_call_observed
for _ in range(5):
    procore_call_observed(method="GET", path="/rest/v1.0/projects?company_id=1", status=429)
"""


def _soap(base: str) -> int:
    body = envelope("serverVersion", {})
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"http://developer.intuit.com/serverVersion"'}
    with requests.Session() as http:  # a new connection each time, so both workers take calls
        return http.post(base + "/qbwc/", data=body, headers=headers, timeout=30).status_code


def test_one_scrape_sums_every_web_worker_and_other_processes(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    env = product_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), METRICS_TOKEN=TOKEN)
    manage(env, "migrate", "--noinput")
    with processes(env, tmp_path / "logs") as run:
        base = run.web(workers=2)
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(lambda _: _soap(base), range(CALLS))) == {200}
        subprocess.run([sys.executable, "-c", OTHER_PROCESS], cwd=ROOT, env=env, check=True)
        text = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("mlconnector_qbwc_soap_calls_total", (("method", "serverVersion"), ("outcome", "ok")))] == CALLS
    assert samples[("mlconnector_qbwc_soap_seconds_count", (("method", "serverVersion"),))] == CALLS
    route = (("method", "GET"), ("route", "/rest/v1.0/projects"), ("status", "429"))
    assert samples[("mlconnector_procore_requests_total", route)] == 5
    assert samples[("mlconnector_procore_rate_limited_total", (("route", "/rest/v1.0/projects"),))] == 5
    files = sorted(p.name for p in metrics_dir.iterdir())
    # At least one web worker and the other process; which of the two web workers took the calls is
    # the kernel's choice, so the sums above (every call counted once) are what proves the pooling.
    assert len({name.split("_", 1)[1] for name in files}) >= 2, files
    assert all("-" in name.split("_", 1)[1] for name in files), "files are named <host>-<pid>"
