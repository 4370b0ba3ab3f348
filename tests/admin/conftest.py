from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Cast
from tests.factories import PASSWORD


@pytest.fixture
def login(cast: Cast):  # type: ignore[no-untyped-def]
    """login("alice") -> a Django test Client signed in as that cast member."""

    def _login(username: str) -> Client:
        client = Client()
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


@pytest.fixture
def emulator(settings):  # type: ignore[no-untyped-def]
    """The Procore emulator on an ephemeral local port; both environments point at it."""
    from peers.procore_emulator.server import ProcoreEmulator

    with ProcoreEmulator() as emu:
        for env in ("SANDBOX", "PRODUCTION"):
            setattr(settings, f"PROCORE_{env}_API_URL", emu.url)
            setattr(settings, f"PROCORE_{env}_LOGIN_URL", emu.url)
        settings.PROCORE_BACKOFF_BASE_SECONDS = 0.01
        settings.PROCORE_BACKOFF_MAX_SECONDS = 0.05
        settings.PROCORE_MAX_ATTEMPTS = 2
        yield emu
