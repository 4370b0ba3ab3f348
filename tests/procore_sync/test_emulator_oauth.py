"""The emulator's authorize step behaves as Procore's does for the admin's Connect button."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from tests.harness_procore import Emu


def test_authorize_returns_the_code_and_the_clients_state(procore_emulator: Emu) -> None:
    answer = requests.get(
        f"{procore_emulator.url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "acme-client",
            "redirect_uri": "https://x.example/cb",
            "state": "signed:abc/123",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["signed:abc/123"]
    assert query["code"][0]


def test_authorize_refuses_an_unknown_client(procore_emulator: Emu) -> None:
    answer = requests.get(
        f"{procore_emulator.url}/oauth/authorize", params={"client_id": "nobody"}, allow_redirects=False, timeout=5
    )
    assert answer.status_code == 401
