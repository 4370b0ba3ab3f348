"""Finding 5: /admin/login/ is throttled (django-axes), over real HTTP.

Failures count per (username, client address): 40 wrong passwords then the right
one from the same address stays locked out; the right one from another address
is let in (no lock-out of the real user from everywhere).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.factories import PASSWORD, make_user


def login(base: str, username: str, password: str, *, source: str = "127.0.0.1") -> requests.Response:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter()
    adapter.init_poolmanager(1, 1, source_address=(source, 0))
    session.mount("http://", adapter)
    page = session.get(base + "/admin/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    return session.post(
        base + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password},
        headers={"Referer": base + "/admin/login/"},
        timeout=30,
        allow_redirects=False,
    )


@pytest.fixture
def axes_on(settings: Any, live_server: Any, transactional_db: None) -> str:
    settings.AXES_ENABLED = True
    make_user("olivia", superuser=True)
    return str(live_server.url).replace("localhost", "127.0.0.1")


def test_forty_wrong_passwords_then_the_right_one_is_still_refused(axes_on: str, settings: Any) -> None:
    for _ in range(40):
        assert login(axes_on, "olivia", "wrong-password").status_code in (200, 429)
    refused = login(axes_on, "olivia", PASSWORD)
    assert refused.status_code != 302, "logged in after 40 wrong passwords"
    # Another address is not locked out: failures count per (username, address).
    assert login(axes_on, "olivia", PASSWORD, source="127.0.0.2").status_code == 302
