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
