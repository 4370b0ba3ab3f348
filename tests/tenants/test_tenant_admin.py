"""The tenant admin form saves through the services: it refuses what the command line refuses."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tenants.models import BillTarget, Tenant
from tests.conftest import Cast
from tests.factories import PASSWORD


def _client(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Initech Builders",
        "slug": "initech",
        "active": "on",
        "qbwc_username": "initech-qb",
        "poll_interval_minutes": "15",
        "procore_environment": "sandbox",
        "procore_company_id": "42",
        "procore_project_id": "7",
        "bill_target": BillTarget.DIRECT_COST_ONLY,
        "new_qbwc_password": "s3cret-pass",
    }
    data.update(overrides)
    return data


def _cli_create(**overrides: str) -> None:
    args = {
        "slug": "initech",
        "--name": "Initech Builders",
        "--qbwc-username": "initech-qb",
        "--qbwc-password": "s3cret-pass",
        "--procore-env": "sandbox",
        "--procore-company-id": "42",
        "--procore-project-id": "7",
    }
    args.update(overrides)
    slug = args.pop("slug")
    call_command("tenants", "create", slug, *[part for pair in args.items() for part in pair])


@pytest.mark.parametrize(
    ("field", "value", "cli_flag", "message"),
    [
        ("slug", "Acme", "slug", "lower-case"),
        ("new_qbwc_password", "x", "--qbwc-password", "at least 8"),
        ("qbwc_username", "acme-qbwc", "--qbwc-username", "already used"),
    ],
)
def test_the_admin_refuses_what_the_command_line_refuses(
    cast: Cast, field: str, value: str, cli_flag: str, message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _cli_create(**{cli_flag: value})
    response = _client("sam").post(reverse("admin:tenants_tenant_add"), _form(**{field: value}))
    assert response.status_code == 200  # the form again, with the service's message
    assert message in response.text
    assert not Tenant.objects.filter(name="Initech Builders").exists()


def test_the_admin_creates_a_tenant_through_tenant_create(cast: Cast) -> None:
    response = _client("sam").post(reverse("admin:tenants_tenant_add"), _form())
    assert response.status_code == 302, response.text
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.check_qbwc_password("s3cret-pass")
    assert tenant.bill_target == BillTarget.DIRECT_COST_ONLY and tenant.active


def test_an_edit_keeps_the_rules_and_sets_a_new_password_through_the_service(cast: Cast) -> None:
    url = reverse("admin:tenants_tenant_change", args=[cast.acme.pk])
    own = _form(name="Acme Builders", slug="acme", qbwc_username=cast.acme.qbwc_username, new_qbwc_password="")
    sam = _client("sam")
    assert "lower-case" in sam.post(url, {**own, "slug": "Acme"}).text
    assert "at least 8" in sam.post(url, {**own, "new_qbwc_password": "x"}).text
    assert sam.post(url, {**own, "new_qbwc_password": "n3w-password"}).status_code == 302
    cast.acme.refresh_from_db()
    assert cast.acme.slug == "acme" and cast.acme.check_qbwc_password("n3w-password")
    assert sam.post(url, own).status_code == 302  # blank keeps the password
    cast.acme.refresh_from_db()
    assert cast.acme.check_qbwc_password("n3w-password")


def test_charlie_cannot_edit_acme(cast: Cast) -> None:
    url = reverse("admin:tenants_tenant_change", args=[cast.acme.pk])
    assert _client("charlie").post(url, _form(slug="acme")).status_code in (403, 404)
    cast.acme.refresh_from_db()
    assert cast.acme.name == "Acme Builders"
