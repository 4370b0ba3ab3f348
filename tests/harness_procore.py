"""Test harness for the Procore side: the emulator on an ephemeral port, and a real Celery worker.

Registered once for the whole suite by tests/conftest.py (`pytest_plugins`). Fixtures:
- `procore_emulator`: the one Procore emulator fixture. A ProcoreEmulator on 127.0.0.1:0
  loaded with `procore_seeds` (acme's and globex's companies; a test package may override
  `procore_seeds`), both Procore environments' settings pointed at it and every wait
  shortened by the one speed table FAST (settings, not mocks: the client still sleeps,
  retries and refreshes for real).
- `celery_worker`: a real Celery worker thread consuming from the configured broker
  (kombu's filesystem transport under VAR_DIR, or Redis when CELERY_BROKER_URL is set),
  so pushes go through send_task → broker → task. Tests using it need `transactional_db`.
- `acme_globex`: two tenants connected to the emulator (authorization-code grant, so
  refresh tokens rotate), with cost-code mappings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.utils import timezone

from audit.models import JobState, PushJob
from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbVendor
from peers.procore_emulator import EmulatorState, ProcoreEmulator
from procore_sync.models import CostCodeMapping, JobProjectMapping
from procore_sync.tokens import connection_connect
from tenants.models import ProcoreConnection, Tenant
from tests.factories import make_tenant

ACME_COMPANY = 7_000_000_001
GLOBEX_COMPANY = 7_000_000_002

COST_CODES = [
    {"code": "01-100", "name": "General Requirements"},
    {"code": "03-300", "name": "Cast-in-Place Concrete"},
    {"code": "22-000", "name": "Plumbing"},
    {"code": "26-000", "name": "Electrical"},
]

ACME_SEED: dict[str, Any] = {
    "company": {"id": ACME_COMPANY, "name": "Acme Builders Inc"},
    "clients": [{"client_id": "acme-client", "client_secret": "acme-secret"}],
    "projects": [{"name": "Main Street Office"}, {"name": "Harbor Bridge"}],
    "cost_codes": COST_CODES,
    # Apex already exists in Procore (linked by origin_id) with subcontracts in both projects.
    "vendors": [{"origin_id": "V-APEX", "name": "Apex Concrete"}],
    "commitments": [
        {
            "project": "Main Street Office",
            "vendor": "V-APEX",
            "lines": [{"cost_code": "01-100", "amount": "5000.00"}, {"cost_code": "03-300", "amount": "90000.00"}],
        },
        {
            "project": "Harbor Bridge",
            "vendor": "V-APEX",
            "kind": "purchase_order_contracts",
            "lines": [{"cost_code": "03-300", "amount": "40000.00"}],
        },
    ],
}

GLOBEX_SEED: dict[str, Any] = {
    "company": {"id": GLOBEX_COMPANY, "name": "Globex Construction Co"},
    "clients": [{"client_id": "globex-client", "client_secret": "globex-secret"}],
    "projects": [{"name": "Globex HQ"}],
    "cost_codes": COST_CODES,
    "vendors": [],
    "commitments": [],
}

# The one speed table for every test that talks to the emulator.
FAST = {
    "PROCORE_TIMEOUT_SECONDS": 1,
    "PROCORE_BACKOFF_BASE_SECONDS": 0.01,
    "PROCORE_BACKOFF_MAX_SECONDS": 0.2,
    "PROCORE_JOB_RETRY_BASE_SECONDS": 0.1,
    "PROCORE_RATE_WAIT_MAX_SECONDS": 30,
    "PROCORE_CATALOG_TTL_SECONDS": 300,
}


@dataclass
class Emu:
    server: ProcoreEmulator
    state: EmulatorState
    ids: dict[str, int]
    seeds: list[dict[str, Any]]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def procore_seeds() -> list[dict[str, Any]]:
    """What the emulator is loaded with; override in a test package for another company."""
    return [ACME_SEED, GLOBEX_SEED]


@pytest.fixture
def procore_emulator(settings: Any, procore_seeds: list[dict[str, Any]]) -> Iterator[Emu]:
    state = EmulatorState()
    ids: dict[str, int] = {}
    for seed in procore_seeds:
        ids |= state.load_seed(seed)
    server = ProcoreEmulator(state).start()
    for env in ("SANDBOX", "PRODUCTION"):
        setattr(settings, f"PROCORE_{env}_API_URL", server.url)
        setattr(settings, f"PROCORE_{env}_LOGIN_URL", server.url)
    for name, value in FAST.items():
        setattr(settings, name, value)
    try:
        yield Emu(server, state, ids, procore_seeds)
    finally:
        server.stop()
    # Procore ignores a body field it does not permit (Rails strong parameters): a misspelt or
    # invented key fails quietly there, so here it fails the test that sent it.
    assert not state.unpermitted, f"the product sent fields Procore does not permit: {sorted(set(state.unpermitted))}"


def _close_thread_connections(**_: Any) -> None:
    # Worker threads open their own connections; PostgreSQL cannot drop the test
    # database while they linger.
    for conn in connections.all(initialized_only=True):
        conn.close()


def _purge_broker(app: Any) -> None:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        # Delete the messages, never the folders: a running worker lists them.
        for sub in ("queue", "processed"):
            folder = settings.BROKER_DIR / sub
            folder.mkdir(parents=True, exist_ok=True)
            for message in folder.iterdir():
                message.unlink(missing_ok=True)
    else:
        app.control.purge()


class _Worker:
    """At most one real worker thread for the session, started on first use.

    Stopping a worker costs ~4 s of broker polling, so it keeps running across the tests
    that use it, and stops only before a transactional test that does not: a running
    worker would consume that test's messages and write to its database behind its back.
    """

    def __init__(self) -> None:
        self._running: contextlib.AbstractContextManager[Any] | None = None
        self.worker: Any = None

    def start(self) -> Any:
        if self.worker is None:
            import procore_sync.tasks  # noqa: F401 - registers the task names with the app
            from connector.celery import app

            _purge_broker(app)
            task_postrun.connect(_close_thread_connections, weak=False)
            self._running = start_worker(
                app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30
            )
            self.worker = self._running.__enter__()
        return self.worker

    def stop(self) -> None:
        if self._running is None:
            return
        from connector.celery import app

        try:
            self._running.__exit__(None, None, None)
        finally:
            self._running, self.worker = None, None
            task_postrun.disconnect(_close_thread_connections)
            _purge_broker(app)


_WORKER = _Worker()


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup: None) -> Iterator[_Worker]:
    # Depends on django_db_setup so the worker (and its connections) stops before the test database goes.
    yield _WORKER
    _WORKER.stop()


@pytest.fixture(autouse=True)
def _no_stray_worker(request: pytest.FixtureRequest) -> None:
    if _WORKER.worker is None or "celery_worker" in request.fixturenames:
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if transactional:
        _WORKER.stop()


@pytest.fixture
def celery_worker(transactional_db: None, _celery_worker_session: _Worker) -> Iterator[Any]:
    """The real worker, with an empty queue; waits for the outbox to settle before the DB is flushed."""
    from connector.celery import app

    worker = _celery_worker_session.start()
    _purge_broker(app)
    yield worker
    # The test may have failed already; its own assertion is the one to report.
    with contextlib.suppress(AssertionError):
        wait_quiet(timeout=10)  # a job rescheduled for later (a used-up rate window) is not waited for
    _purge_broker(app)


@dataclass
class Tenants:
    acme: Tenant
    globex: Tenant
    emu: Emu

    def connection(self, tenant: Tenant) -> ProcoreConnection:
        return ProcoreConnection.objects.get(tenant=tenant, environment=tenant.procore_environment)


def connect_with_code(tenant: Tenant, emu: Emu, client_id: str, client_secret: str) -> ProcoreConnection:
    """The authorization-code grant, as the admin's OAuth flow does it (refresh tokens rotate)."""
    code = emu.state.issue_code(client_id)
    return connection_connect(
        tenant=tenant,
        environment=tenant.procore_environment,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri="http://testserver/callback",
    )


@pytest.fixture
def acme_globex(procore_emulator: Emu, transactional_db: None) -> Tenants:
    ids = procore_emulator.ids
    acme = make_tenant(
        slug="acme",
        name="Acme Builders",
        procore_company_id=ACME_COMPANY,
        procore_project_id=ids["project:Main Street Office"],
    )
    globex = make_tenant(
        slug="globex",
        name="Globex Construction",
        procore_company_id=GLOBEX_COMPANY,
        procore_project_id=ids["project:Globex HQ"],
    )
    connect_with_code(acme, procore_emulator, "acme-client", "acme-secret")
    connect_with_code(globex, procore_emulator, "globex-client", "globex-secret")
    CostCodeMapping.objects.create(
        tenant=acme, vendor_list_id="V-APEX", vendor_name="Apex Concrete", cost_code="03-300"
    )
    CostCodeMapping.objects.create(
        tenant=acme, vendor_list_id="V-BRE", vendor_name="Blue Ridge Electric", cost_code="26-000"
    )
    CostCodeMapping.objects.create(
        tenant=globex, vendor_list_id="G-PLUMB", vendor_name="Globex Plumbing", cost_code="22-000"
    )
    JobProjectMapping.objects.create(
        tenant=acme, customer_full_name="Port Authority:Harbor Bridge", project_id=ids["project:Harbor Bridge"]
    )
    return Tenants(acme, globex, procore_emulator)


# --- QuickBooks objects ----------------------------------------------------------


def qb_vendor(list_id: str, name: str, seq: str = "1", **kw: Any) -> QbVendor:
    values: dict[str, Any] = {
        "company_name": name + " LLC",
        "address": QbAddress(
            addr1=name, addr2="12 Main St", city="Denver", state="Colorado", postal_code="80202", country="USA"
        ),
        "phone": "303-555-0100",
        "email": "ap@" + list_id.lower() + ".example",
    }
    values.update(kw)
    return QbVendor(list_id=list_id, edit_sequence=seq, name=name, **values)


def qb_bill(
    txn_id: str,
    vendor: QbVendor,
    lines: list[tuple[str, str]],
    *,
    seq: str = "1",
    ref: str | None = None,
) -> QbBill:
    """lines: (amount, Customer:Job or "")."""
    bill_lines = tuple(
        QbBillLine(
            txn_line_id=f"{txn_id}-L{i}",
            kind="expense",
            amount=Decimal(amount),
            customer_full_name=job,
            account_name="Job Materials",
            description=f"line {i}",
        )
        for i, (amount, job) in enumerate(lines, 1)
    )
    return QbBill(
        txn_id=txn_id,
        edit_sequence=seq,
        vendor_list_id=vendor.list_id,
        vendor_name=vendor.name,
        txn_date=date(2026, 11, 2),
        amount_due=sum((li.amount for li in bill_lines), Decimal("0")),
        ref_number=ref or "INV-" + txn_id,
        lines=bill_lines,
    )


# --- waiting -------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], *, timeout: float = 30, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


SETTLED = (JobState.DONE, JobState.WAITING, JobState.FAILED, JobState.CANCELLED)


def wait_quiet(*, timeout: float = 45) -> None:
    """Until nothing is in flight and nothing is due now (a job rescheduled for later may stay pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = timezone.now()
        if not PushJob.objects.filter(
            Q(state=JobState.IN_FLIGHT) | Q(state=JobState.PENDING, not_before__lte=now)
        ).exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"outbox not quiet after {timeout}s: {_open_jobs()}")


def wait_settled(*, timeout: float = 45) -> None:
    """Until no job is pending or in flight (each finished, waits for a person, or failed)."""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not PushJob.objects.exclude(state__in=SETTLED).exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"outbox not settled after {timeout}s: {_open_jobs()}")


def _open_jobs() -> str:
    return ", ".join(
        f"#{j.pk} {j.op} {j.state} {j.reason} {j.last_error[:80]}"
        for j in PushJob.objects.exclude(state__in=SETTLED)[:10]
    )
