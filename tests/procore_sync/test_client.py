"""ProcoreClient against the emulator over real HTTP: headers, tokens, errors, retries, pagination."""

from __future__ import annotations

import time
from typing import Any

import pytest

from procore_sync.client import ProcoreClient
from procore_sync.errors import Forbidden, RateLimited, TransientError, ValidationFailed
from procore_sync.oauth import credentials_with_grant, oauth_token
from procore_sync.transport import ProcoreCredentials
from tests.harness_procore import ACME_COMPANY, Emu


class GrantSource:
    """A TokenSource without a database: runs the client-credentials grant again."""

    def __init__(self) -> None:
        self.refreshes = 0

    def refresh(self, stale: ProcoreCredentials) -> ProcoreCredentials:
        self.refreshes += 1
        grant = oauth_token(
            login_url=stale.login_url,
            form={
                "grant_type": "client_credentials",
                "client_id": stale.client_id,
                "client_secret": stale.client_secret,
            },
        )
        return credentials_with_grant(stale, grant)


def api_calls(client: ProcoreClient) -> list[Any]:
    return [c for c in client.calls if not c.path.startswith("/oauth/")]


def make_client(emu: Emu, **kwargs: Any) -> tuple[ProcoreClient, GrantSource]:
    source = GrantSource()
    creds = ProcoreCredentials(
        environment="sandbox",
        api_url=emu.url,
        login_url=emu.url,
        company_id=ACME_COMPANY,
        client_id="acme-client",
        client_secret="acme-secret",
    )
    return ProcoreClient(creds, token_source=source, **kwargs), source


def test_it_gets_a_token_first_and_sends_the_company_header(procore_emulator: Emu) -> None:
    client, source = make_client(procore_emulator)
    projects = client.projects()
    assert {p["name"] for p in projects} == {"Main Street Office", "Harbor Bridge"}
    assert source.refreshes == 1
    assert client.calls[0].path == "/oauth/token"
    assert client.calls[-1].status == 200 and client.calls[-1].path.startswith("/rest/v1.0/projects?")


def test_a_missing_company_header_is_a_permanent_403(procore_emulator: Emu) -> None:
    client, _ = make_client(procore_emulator)
    with pytest.raises(Forbidden) as err:
        client.request("GET", "/rest/v1.0/projects", params={"company_id": ACME_COMPANY}, company_header=False)
    assert err.value.permanent and err.value.status == 403
    assert "not connected to this company" in str(err.value)


def test_it_refreshes_once_on_401_and_carries_on(procore_emulator: Emu) -> None:
    client, source = make_client(procore_emulator)
    client.projects()
    procore_emulator.state.expire_access_token(client.credentials.access_token)
    assert len(client.projects()) == 2
    assert source.refreshes == 2
    assert [c.status for c in api_calls(client)] == [200, 401, 200]
    assert [c.path for c in client.calls].count("/oauth/token") == 2  # refreshes are recorded too


def test_a_422_is_permanent_and_keeps_procores_message(procore_emulator: Emu) -> None:
    client, _ = make_client(procore_emulator)
    with pytest.raises(ValidationFailed) as err:
        # A POST straight through the transport (the product creates vendors through vendors/sync).
        client.request(
            "POST", "/rest/v1.0/vendors", json={"company_id": ACME_COMPANY, "vendor": {"name": " ", "origin_id": "X"}}
        )
    assert err.value.permanent
    assert "name can't be blank" in str(err.value)


def test_pagination_follows_the_link_header(procore_emulator: Emu) -> None:
    state = procore_emulator.state
    for i in range(230):
        from peers.procore_emulator.api import Api

        Api(state).vendor_create(ACME_COMPANY, {"name": f"Vendor {i}", "origin_id": f"P-{i}"})
    client, _ = make_client(procore_emulator)
    vendors = list(client.paginate("/rest/v1.0/vendors", params={"company_id": ACME_COMPANY}))
    assert len(vendors) == 231  # + Apex from the seed
    assert len({v["id"] for v in vendors}) == 231
    assert [c.method for c in api_calls(client)] == ["GET", "GET", "GET"]


def test_a_429_goes_back_to_the_job_with_the_wait_never_slept_here(procore_emulator: Emu) -> None:
    procore_emulator.state.set_rate_limits([(3, 1.0)])
    client, _ = make_client(procore_emulator)
    client.projects()
    for _ in range(3):  # another process spends the rest of the window
        procore_emulator.state.spend("acme-client")
    started = time.monotonic()
    with pytest.raises(RateLimited) as err:
        client.projects()
    # The worker is free at once; the outbox reschedules the job for when the window resets.
    assert time.monotonic() - started < 0.5
    assert not err.value.permanent and err.value.retry_after and 0 < err.value.retry_after <= 2.0
    assert [c.status for c in api_calls(client)] == [200, 429]


def test_a_window_nearly_used_up_is_paced_before_anything_is_sent(procore_emulator: Emu) -> None:
    procore_emulator.state.set_rate_limits([(20, 30.0)])
    client, _ = make_client(procore_emulator)
    for _ in range(18):
        procore_emulator.state.spend("acme-client")
    client.projects()  # its answer says 1 of 20 left: below a tenth of the window
    with pytest.raises(RateLimited) as err:
        client.projects()
    assert err.value.retry_after and err.value.retry_after > 1
    assert len(api_calls(client)) == 1  # the paced request never left


def test_the_rate_window_belongs_to_the_connection_not_the_process(procore_emulator: Emu) -> None:
    procore_emulator.state.set_rate_limits([(1, 30.0)])
    client, _ = make_client(procore_emulator)
    client.projects()
    with pytest.raises(RateLimited):
        client.projects()
    fresh, _ = make_client(procore_emulator)  # another connection's client starts from its own state
    assert fresh.rate.remaining is None


def test_5xx_on_an_idempotent_call_are_resent_at_once_a_bounded_number_of_times(
    procore_emulator: Emu, settings: Any
) -> None:
    settings.PROCORE_MAX_ATTEMPTS = 4
    procore_emulator.state.inject("status", status=502, count=3, method="GET")
    client, _ = make_client(procore_emulator)
    assert len(client.projects()) == 2
    assert [c.status for c in api_calls(client)] == [502, 502, 502, 200]
    procore_emulator.state.inject("status", status=500, count=10, method="GET")
    with pytest.raises(TransientError) as err:
        client.projects()
    assert not err.value.permanent
    assert len(api_calls(client)) == 8


def test_a_create_is_not_resent_when_its_answer_is_lost(procore_emulator: Emu) -> None:
    procore_emulator.state.inject("drop", method="POST", path="/vendors$")
    client, _ = make_client(procore_emulator)
    client.projects()
    with pytest.raises(TransientError) as err:
        client.request(
            "POST",
            "/rest/v1.0/vendors",
            json={"company_id": ACME_COMPANY, "vendor": {"name": "Lost Answer Co", "origin_id": "LOST-1"}},
        )
    assert err.value.maybe_committed
    assert len(procore_emulator.state.vendors_by_origin("LOST-1")) == 1
    assert procore_emulator.state.count("POST", "/vendors$") == 1


def test_a_read_timeout_on_a_get_is_retried(procore_emulator: Emu, settings: Any) -> None:
    procore_emulator.state.inject("timeout", delay=1.3, method="GET", path="/projects")
    client, _ = make_client(procore_emulator)
    assert len(client.projects()) == 2
    assert [c.error for c in api_calls(client)] == ["timeout", ""]


def test_recorded_calls_and_errors_carry_no_secrets(procore_emulator: Emu) -> None:
    client, _ = make_client(procore_emulator)
    client.projects()
    token = client.credentials.access_token
    assert token not in repr(client.credentials)
    assert all(token not in str(c.as_dict()) for c in client.calls)
    assert "acme-secret" not in repr(client.credentials)
