"""tenants.access: who sees which tenant, and the admin's 404 for other tenants' objects."""

from __future__ import annotations

from django.test import Client

from procore_sync.models import CostCodeMapping
from tenants import access
from tenants.models import Tenant
from tests.conftest import Cast
from tests.factories import PASSWORD, make_user


def test_accountants_see_only_their_tenant(cast: Cast) -> None:
    assert list(access.tenants_for(cast.alice)) == [cast.acme]
    assert list(access.tenants_for(cast.charlie)) == [cast.globex]
    assert not access.can_see_tenant(cast.charlie, cast.acme.pk)
    assert not access.is_operator(cast.alice)


def test_support_staff_and_superusers_see_every_tenant(cast: Cast) -> None:
    root = make_user("root", superuser=True)
    for user in (cast.sam, root):
        assert access.is_operator(user)
        assert set(access.tenants_for(user)) == {cast.acme, cast.globex}


def test_strangers_see_nothing(cast: Cast) -> None:
    nobody = make_user("nobody")
    assert list(access.tenants_for(nobody)) == []
    assert not access.has_admin_access(nobody)
    inactive = make_user("ghost")
    inactive.is_active = False
    inactive.save()
    assert not access.is_operator(inactive)


def test_scope_filters_tenant_owned_rows(cast: Cast) -> None:
    CostCodeMapping.objects.create(tenant=cast.acme, vendor_list_id="80000001-1", cost_code="03-300")
    CostCodeMapping.objects.create(tenant=cast.globex, vendor_list_id="80000002-1", cost_code="09-900")
    codes = lambda user: sorted(access.scope(CostCodeMapping.objects.all(), user).values_list("cost_code", flat=True))  # noqa: E731
    assert codes(cast.alice) == ["03-300"]
    assert codes(cast.charlie) == ["09-900"]
    assert codes(cast.sam) == ["03-300", "09-900"]


def test_only_operators_manage_credentials(cast: Cast) -> None:
    assert access.can_manage_credentials(cast.sam)
    assert not access.can_manage_credentials(cast.alice)


def test_accountant_gets_404_on_another_tenants_objects(cast: Cast) -> None:
    client = Client()
    assert client.login(username="charlie", password=PASSWORD)
    assert client.get(f"/admin/tenants/tenant/{cast.acme.pk}/change/").status_code == 404
    assert client.get(f"/admin/tenants/tenant/{cast.globex.pk}/change/").status_code == 200
    listing = client.get("/admin/tenants/tenant/").content.decode()
    assert "Globex Construction" in listing and "Acme Builders" not in listing
    alice = Client()
    assert alice.login(username="alice", password=PASSWORD)
    assert alice.get(f"/admin/tenants/tenant/{cast.globex.pk}/change/").status_code == 404


def test_accountants_cannot_create_or_edit_tenants(cast: Cast) -> None:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    assert client.get("/admin/tenants/tenant/add/").status_code == 403
    before = Tenant.objects.get(pk=cast.acme.pk).name
    client.post(f"/admin/tenants/tenant/{cast.acme.pk}/change/", {"name": "Hacked"})
    assert Tenant.objects.get(pk=cast.acme.pk).name == before
