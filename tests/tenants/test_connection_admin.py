"""The Procore connection screen: support only, secrets write-only; charlie never sees acme's."""

from __future__ import annotations

from django.urls import reverse

from tests.conftest import Cast
from tests.factories import make_connection


def test_secrets_are_never_rendered_back(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme, client_secret="very-secret-value", access_token="live-access-token")
    page = login("sam").get(reverse("admin:tenants_procoreconnection_change", args=[conn.pk]))
    assert page.status_code == 200
    assert "very-secret-value" not in page.text and "live-access-token" not in page.text
    assert "client-id-acme" not in page.text
    assert "client secret: set" in page.text


def test_blank_secret_fields_keep_the_stored_values(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme, client_secret="keep-me")
    response = login("sam").post(
        reverse("admin:tenants_procoreconnection_change", args=[conn.pk]),
        {"tenant": cast.acme.pk, "environment": "sandbox", "client_id": "", "client_secret": ""},
    )
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.client_secret == "keep-me" and conn.client_id == "client-id-acme"


def test_accountants_never_reach_credentials_and_charlie_gets_404(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    conn = make_connection(cast.acme)
    assert login("alice").get(reverse("admin:tenants_procoreconnection_changelist")).status_code == 403
    assert login("alice").get(reverse("admin:tenants_procoreconnection_change", args=[conn.pk])).status_code == 403
    assert login("charlie").get(reverse("admin:tenants_procoreconnection_change", args=[conn.pk])).status_code == 404
    assert login("charlie").get(reverse("admin:procore_oauth_connect", args=[conn.pk])).status_code == 404
    assert login("alice").get(reverse("admin:procore_oauth_connect", args=[conn.pk])).status_code == 403
