"""The setup page's checklist (JSON the page polls) and its tenant scoping, without a browser."""

from __future__ import annotations

from django.urls import reverse

from procore_sync.models import CostCodeMapping, JobProjectMapping
from qbwc.models import QbwcSession
from tenants.models import ConnectionStatus
from tests import builders
from tests.conftest import Cast
from tests.factories import make_connection


def _checks(client, tenant) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("admin:tenant_setup_status", args=[tenant.pk]))
    assert response.status_code == 200
    return {c["key"]: c["done"] for c in response.json()["checks"]}


def test_the_checklist_follows_the_tenants_progress(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    alice = login("alice")
    assert _checks(alice, cast.acme) == {"first_poll": False, "procore": False, "projects": False, "vendors": False}
    page = alice.get(reverse("admin:tenant_setup", args=[cast.acme.pk])).content.decode()
    assert "acme-qbwc" in page and reverse("admin:tenants_tenant_qwc", args=[cast.acme.pk]) in page

    QbwcSession.objects.create(tenant=cast.acme, ticket_digest="a" * 64, ticket_hint="aaaa")
    make_connection(cast.acme, status=ConnectionStatus.CONNECTED, company_name="Acme Builders Inc")
    vendor = builders.vendor(cast.acme, "Apex Concrete")
    builders.bill(cast.acme, vendor, "INV-1", job="Smith:Kitchen")
    assert _checks(alice, cast.acme) == {"first_poll": True, "procore": True, "projects": False, "vendors": False}

    JobProjectMapping.objects.create(tenant=cast.acme, customer_full_name="Smith:Kitchen", project_id=42)
    CostCodeMapping.objects.create(tenant=cast.acme, vendor_list_id=vendor.qb_id, cost_code="03-300")
    assert all(_checks(alice, cast.acme).values())


def test_a_connection_needing_a_reconnect_is_not_green(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    make_connection(cast.acme, status=ConnectionStatus.NEEDS_RECONNECT)
    assert _checks(login("alice"), cast.acme)["procore"] is False


def test_charlie_cannot_see_acmes_setup(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    charlie = login("charlie")
    assert charlie.get(reverse("admin:tenant_setup", args=[cast.acme.pk])).status_code == 404
    assert charlie.get(reverse("admin:tenant_setup_status", args=[cast.acme.pk])).status_code == 404
    assert charlie.get(reverse("admin:tenant_setup", args=[cast.globex.pk])).status_code == 200
    assert login("sam").get(reverse("admin:tenant_setup", args=[cast.acme.pk])).status_code == 200


def test_the_dashboard_links_each_tenant_to_its_setup_page(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    page = login("alice").get("/admin/").content.decode()
    assert reverse("admin:tenant_setup", args=[cast.acme.pk]) in page
    assert reverse("admin:tenant_setup", args=[cast.globex.pk]) not in page
