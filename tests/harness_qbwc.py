"""Fixtures for driving the QBWC endpoint over real HTTP with the Web Connector simulator.

Use with `pytest_plugins = ["tests.harness_qbwc"]` (tests/qbwc/conftest.py does).
The server is pytest-django's live_server: the real Django app in a thread,
listening on 127.0.0.1 on an ephemeral port. It serves the production WSGI composition
(connector.wsgi): the SOAP endpoint's POSTs go through connector.soap_route, as in production,
so every test that drives the simulator over HTTP covers that route.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.utils import timezone
from pytest_django.live_server_helper import LiveServer

from connector.soap_route import SoapRoute, WsgiApp
from peers.qbwc_simulator.client import RunResult, WebConnector
from peers.qbwc_simulator.company import FakeCompany, Faults
from peers.qbwc_simulator.dataset import Dataset, build
from qbwc.models import QbwcSession
from tenants.models import Tenant
from tests.factories import PASSWORD, make_tenant


@dataclass
class QbwcHarness:
    url: str
    tenant: Tenant
    connectors: list[WebConnector] = field(default_factory=list)

    def company(self, dataset: Dataset | None = None, faults: Faults | None = None) -> FakeCompany:
        return FakeCompany(dataset or build(bills=40, vendors=8), faults=faults)

    def connector(self, company: FakeCompany, *, username: str | None = None, password: str = PASSWORD) -> WebConnector:
        connector = WebConnector(self.url, username or self.tenant.qbwc_username, password, company)
        self.connectors.append(connector)
        return connector

    def close(self) -> None:
        # A kept-alive HTTP connection keeps its server thread, and that thread's database
        # connection, alive past the test (PostgreSQL then cannot drop the test database).
        for connector in self.connectors:
            connector.http.close()

    def run(self, company: FakeCompany, **kwargs: Any) -> RunResult:
        return self.connector(company, **kwargs).run()

    def age_sessions(self, seconds: int) -> None:
        """Let time pass for the server: every session of the tenant was last seen `seconds` ago."""
        then = timezone.now() - timedelta(seconds=seconds)
        QbwcSession.objects.filter(tenant=self.tenant).update(last_seen_at=then, started_at=then)


def _production_app(django: WsgiApp) -> StaticFilesHandler:
    """What LiveServerThread serves: Django's handler under connector.wsgi's SoapRoute (as
    connector.wsgi composes it), with the static files pytest-django's own live server adds."""
    return StaticFilesHandler(SoapRoute(django))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """pytest-django's live_server (same address rules), serving _production_app."""
    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    server.thread.static_handler = _production_app  # type: ignore[assignment]
    server.start()
    yield server
    server.stop()


@pytest.fixture
def qbwc_settings(settings: Any) -> Any:
    # Back-to-back runs are the point of most tests; the minimum-interval test sets its own.
    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    return settings


@pytest.fixture
def qbwc(live_server: Any, transactional_db: None, qbwc_settings: Any) -> Iterator[QbwcHarness]:
    tenant = make_tenant(slug="acme", name="Acme Builders")
    harness = QbwcHarness(url=live_server.url + "/qbwc/", tenant=tenant)
    yield harness
    harness.close()


@pytest.fixture
def run_simulator(qbwc: QbwcHarness) -> Callable[..., RunResult]:
    def run(company: FakeCompany, **kwargs: Any) -> RunResult:
        return qbwc.run(company, **kwargs)

    return run
