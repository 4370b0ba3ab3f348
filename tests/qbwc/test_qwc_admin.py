"""The tenant page's .qwc download (qbwc/admin_views.py); charlie gets 404 for acme's."""

from __future__ import annotations

from django.urls import reverse

from tests.conftest import Cast


def test_download_qwc_for_own_tenant_and_404_for_charlie(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    url = reverse("admin:tenants_tenant_qwc", args=[cast.acme.pk])
    response = login("alice").get(url, SERVER_NAME="localhost")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="ml-connector-acme.qwc"'
    body = response.content.decode()
    assert "<AppURL>http://localhost/qbwc/</AppURL>" in body and "<UserName>acme-qbwc</UserName>" in body
    assert login("charlie").get(url, SERVER_NAME="localhost").status_code == 404


def test_download_qwc_refuses_plain_http_on_a_public_host(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    url = reverse("admin:tenants_tenant_qwc", args=[cast.acme.pk])
    response = login("sam").get(url, follow=True)  # http://testserver: not https, not localhost
    assert "Cannot build the .qwc file" in response.text and "requires https" in response.text


def test_tenant_page_has_the_download_button_and_charlie_cannot_see_acme(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    page = login("alice").get(reverse("admin:tenants_tenant_change", args=[cast.acme.pk]))
    assert 'id="download-qwc"' in page.text
    listing = login("charlie").get(reverse("admin:tenants_tenant_changelist"))
    assert "Acme Builders" not in listing.text
    assert login("charlie").get(reverse("admin:tenants_tenant_change", args=[cast.acme.pk])).status_code == 404
