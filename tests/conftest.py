"""Shared fixtures: the two-tenant cast, and `login` for a signed-in admin client.

acme + alice (accountant), globex + charlie (accountant, must never see acme),
sam (support staff, sees every tenant). The peers' fixtures (Procore emulator, Celery
worker, QBWC simulator over the live server) are registered once, here, for every test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tenants.models import Role, Tenant
from tests.factories import PASSWORD, make_member, make_tenant

pytest_plugins = ["tests.harness_procore", "tests.harness_qbwc"]


@dataclass
class Cast:
    acme: Tenant
    globex: Tenant
    alice: User
    charlie: User
    sam: User


@pytest.fixture
def cast(db: None) -> Cast:
    acme = make_tenant(slug="acme", name="Acme Builders")
    globex = make_tenant(slug="globex", name="Globex Construction")
    alice = make_member("alice", acme)
    charlie = make_member("charlie", globex)
    sam = make_member("sam", acme, role=Role.SUPPORT)
    return Cast(acme=acme, globex=globex, alice=alice, charlie=charlie, sam=sam)


@pytest.fixture
def login(cast: Cast) -> Callable[[str], Client]:
    """login("alice") -> a Django test Client signed in as that cast member."""

    def _login(username: str) -> Client:
        client = Client()
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


# --- Issue 9 step 3: every job move the pusher makes is one JOB_TRANSITIONS allows ------------
# The runner's _finish keeps a job's state (and logs) when the guarded setter refuses a move;
# any such refusal in a test run (the real worker's threads log here too) fails that test.


class _RefusedJobMoves(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "is not allowed" in message:
            self.messages.append(message)


@pytest.fixture(autouse=True)
def _no_refused_job_move() -> Iterator[None]:
    handler = _RefusedJobMoves()
    runner_log = logging.getLogger("procore_sync.services.outbox_runner")
    runner_log.addHandler(handler)
    yield
    runner_log.removeHandler(handler)
    assert not handler.messages, f"job moves refused by JOB_TRANSITIONS: {handler.messages}"
