"""Test connection and Connect (OAuth) from the connection screen, against the Procore emulator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from django.db import connection as db
from django.urls import reverse

from tenants.models import ConnectionStatus
from tests.conftest import Cast
from tests.factories import make_connection


def test_test_connection_shows_the_company_name(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    procore_emulator.state.add_company(cast.acme.procore_company_id, "Acme Builders LLC")
    procore_emulator.state.add_client("client-id-acme", "client-secret-acme", [cast.acme.procore_company_id])
    conn = make_connection(cast.acme)
    response = login("sam").post(reverse("admin:tenants_procoreconnection_test", args=[conn.pk]), follow=True)
    assert "Connected to Procore company “Acme Builders LLC”" in response.text
    conn.refresh_from_db()
    assert conn.company_name == "Acme Builders LLC"


def test_test_connection_shows_procores_exact_error(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    procore_emulator.state.add_client("client-id-acme", "another-secret", [cast.acme.procore_company_id])
    conn = make_connection(cast.acme)
    response = login("sam").post(reverse("admin:tenants_procoreconnection_test", args=[conn.pk]), follow=True)
    assert "Procore answered:" in response.text
    assert "Client authentication failed" in response.text
    assert "client-secret-acme" not in response.text


def test_connect_to_procore_runs_the_authorization_code_flow(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    procore_emulator.state.add_company(cast.acme.procore_company_id, "Acme Builders LLC")
    procore_emulator.state.add_client("client-id-acme", "client-secret-acme", [cast.acme.procore_company_id])
    conn = make_connection(cast.acme)
    sam = login("sam")
    start = sam.get(reverse("admin:procore_oauth_connect", args=[conn.pk]))
    assert start.status_code == 302
    authorize = urlsplit(start["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == procore_emulator.url and authorize.path == "/oauth/authorize"
    query = parse_qs(authorize.query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["client-id-acme"]
    assert query["redirect_uri"] == ["http://testserver/admin/procore/oauth/callback/"]
    # The user signs in at Procore (the emulator), which redirects back with a single-use code.
    back = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    returned = parse_qs(urlsplit(back.headers["Location"]).query)
    state = returned.get("state", query["state"])[0]
    done = sam.get(reverse("admin:procore_oauth_callback"), {"code": returned["code"][0], "state": state}, follow=True)
    assert "Connected to Procore." in done.text
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.CONNECTED and conn.grant_type == "authorization_code"
    assert conn.access_token and conn.refresh_token
    # Stored encrypted: the raw column is not the token.
    with db.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_procoreconnection WHERE id = %s", [conn.pk])
        assert cursor.fetchone()[0] != conn.access_token


def test_callback_refuses_a_forged_or_foreign_state(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme)
    sam = login("sam")
    assert sam.get(reverse("admin:procore_oauth_callback"), {"code": "x", "state": "forged"}).status_code == 403
    start = sam.get(reverse("admin:procore_oauth_connect", args=[conn.pk]))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    # Another session (same user, different browser) cannot use this state: its nonce is elsewhere.
    second = login("sam")
    assert second.get(reverse("admin:procore_oauth_callback"), {"code": "x", "state": state}).status_code == 403
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.NOT_CONNECTED


def test_callback_reports_a_refusal_at_procore(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme)
    sam = login("sam")
    start = sam.get(reverse("admin:procore_oauth_connect", args=[conn.pk]))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    done = sam.get(
        reverse("admin:procore_oauth_callback"),
        {"error": "access_denied", "error_description": "The user denied access", "state": state},
        follow=True,
    )
    assert "Procore did not authorize the connection: The user denied access" in done.text
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.NOT_CONNECTED and not conn.access_token


def test_callback_with_a_used_code_shows_procores_error(cast: Cast, login, procore_emulator) -> None:  # type: ignore[no-untyped-def]
    procore_emulator.state.add_client("client-id-acme", "client-secret-acme", [cast.acme.procore_company_id])
    conn = make_connection(cast.acme)
    sam = login("sam")
    start = sam.get(reverse("admin:procore_oauth_connect", args=[conn.pk]))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    done = sam.get(reverse("admin:procore_oauth_callback"), {"code": "never-issued", "state": state}, follow=True)
    assert "Procore refused the sign-in" in done.text and "code is invalid or expired" in done.text


def test_connect_needs_a_client_id_first(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme, client_id=None)
    done = login("sam").get(reverse("admin:procore_oauth_connect", args=[conn.pk]), follow=True)
    assert "client ID and secret first, then connect" in done.text
