"""/metrics after a demo-sized run: simulator over real HTTP, emulator, real Celery worker.

Every family the operator asks for must show activity: SOAP calls and latency,
logins and sessions by outcome, records received/pushed/failed/waiting by kind,
push attempts, Procore calls by route and status, 429s, token refreshes, outbox
depth and oldest due job, and each tenant's last contact age.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from audit.metrics import route_of
from audit.models import PushJob, PushOp, RecordKind, RecordState, SyncRecord
from connector.metrics_collector import DatabaseCollector
from qbwc.models import QbwcSession
from tests.drills.harness import Drill, dataset
from tests.harness_procore import Tenants

TOKEN = "metrics-token-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def drill(live_server: Any, acme_globex: Tenants, celery_worker: Any, qbwc_settings: Any) -> Iterator[Drill]:
    qbwc_settings.METRICS_TOKEN = TOKEN
    harness = Drill(t=acme_globex, url=live_server.url + "/qbwc/")
    yield harness
    harness.close()


def scrape(base: str) -> Samples:
    response = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_metrics_after_a_demo_sized_run_show_every_family(drill: Drill, live_server: Any) -> None:
    base = live_server.url
    before = scrape(base)
    state, acme = drill.state, drill.t.acme
    data = dataset(vendors=8, bills=40, changes=True)
    company = drill.company(data, unmapped=(data.vendors[-1]["ListID"],))  # its bills wait for a mapping
    # One batch's line sync is refused as a whole: its records fail for good (422, one attempt).
    state.inject("status", status=422, method="PATCH", path=r"/direct_costs/line_items/sync$", count=1)
    state.inject("status", status=429, method="GET", count=2, retry_after=0.05)  # Procore says slow down
    state.expire_access_token(drill.t.connection(acme).access_token)  # a 401, then a refresh grant
    drill.sync(company, timeout=120)
    assert company.apply_next_changes()
    drill.sync(company, timeout=120)  # an incremental run: edits and deletions
    after = scrape(base)

    def grew(name: str, **labels: str) -> float:
        delta = total(after, name, **labels) - total(before, name, **labels)
        assert delta > 0, f"{name} {labels} did not grow"
        return delta

    p = "mlconnector_"
    for method in ("authenticate", "sendRequestXML", "receiveResponseXML", "closeConnection"):
        grew(p + "qbwc_soap_calls_total", method=method, outcome="ok")
        grew(p + "qbwc_soap_seconds_count", method=method)
    grew(p + "qbwc_logins_total", outcome="opened")
    assert grew(p + "qbwc_sessions_total", outcome="done") == 2
    for kind in ("vendor", "bill"):
        grew(p + "records_total", kind=kind, state="received")
        grew(p + "records_total", kind=kind, state="pushed")
    grew(p + "records_total", kind="bill", state="failed")
    grew(p + "records_total", kind="bill", state="waiting")
    grew(p + "push_attempts_total", op="bill_upsert", outcome="done")
    grew(p + "push_attempts_total", outcome="validation_failed")
    grew(p + "push_seconds_count")
    grew(p + "procore_requests_total", method="PATCH", route="/rest/v1.0/projects/{id}/direct_costs/sync", status="200")
    grew(p + "procore_requests_total", status="401")
    grew(p + "procore_rate_limited_total")
    grew(p + "procore_token_requests_total", grant="refresh_token", outcome="200")
    assert total(after, p + "outbox_jobs", state="done") > 0
    assert total(after, p + "outbox_jobs", state="waiting") > 0
    assert (p + "outbox_oldest_due_seconds", frozenset()) in after
    assert total(after, p + "records_waiting", kind="bill") > 0
    age = total(after, p + "qbwc_last_contact_age_seconds", tenant="acme")
    assert 0 <= age < 120
    assert not [k for k in after if k[0] == p + "qbwc_last_contact_age_seconds" and ("tenant", "globex") in k[1]]


@pytest.mark.django_db
def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(client: Any, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-0123456789").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"mlconnector_outbox_jobs" in response.content


def test_routes_are_bounded_labels() -> None:
    assert route_of("/rest/v1.0/vendors/123?company_id=1&filters[origin_id]=V1") == "/rest/v1.0/vendors/{id}"
    assert route_of("/rest/v1.1/projects/42/direct_costs/7") == "/rest/v1.1/projects/{id}/direct_costs/{id}"


def test_database_gauges_are_read_at_scrape_time(cast: Any) -> None:
    now = timezone.now()
    record = SyncRecord.objects.create(tenant=cast.acme, kind=RecordKind.BILL, qb_id="T-1", state=RecordState.WAITING)
    PushJob.objects.create(
        tenant=cast.acme, record=record, op=PushOp.BILL_UPSERT, not_before=now - timedelta(minutes=5)
    )
    QbwcSession.objects.create(
        tenant=cast.globex, ticket_digest="d" * 64, started_at=now, last_seen_at=now - timedelta(hours=2)
    )
    gauges = {(s.name, tuple(s.labels.values())): s.value for f in DatabaseCollector().collect() for s in f.samples}
    assert gauges[("mlconnector_outbox_jobs", ("pending",))] == 1
    assert gauges[("mlconnector_outbox_jobs", ("done",))] == 0
    assert 299 <= gauges[("mlconnector_outbox_oldest_due_seconds", ())] < 330
    assert gauges[("mlconnector_records_waiting", ("bill",))] == 1
    assert 7199 <= gauges[("mlconnector_qbwc_last_contact_age_seconds", ("globex",))] < 7230
    assert ("mlconnector_qbwc_last_contact_age_seconds", ("acme",)) not in gauges  # never called
