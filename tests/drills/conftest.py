"""Fixtures for the fault drills: live QBWC server + Procore emulator + real Celery worker, two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.drills.harness import Drill
from tests.harness_procore import Tenants


@pytest.fixture
def drill(live_server: Any, acme_globex: Tenants, celery_worker: Any, qbwc_settings: Any) -> Iterator[Drill]:
    """acme and globex connected to the emulator; the simulator points at the live server's /qbwc/."""
    harness = Drill(t=acme_globex, url=live_server.url + "/qbwc/")
    yield harness
    harness.close()
