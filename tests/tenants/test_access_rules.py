"""Every rule in tenants/access.py, one by one, with the acme/globex cast."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from audit.models import SyncRecord
from tenants import access
from tenants.models import Membership, Role
from tests import builders
from tests.conftest import Cast
from tests.factories import make_tenant, make_user


def test_is_operator_for_support_and_superusers_only(cast: Cast) -> None:
    root = make_user("root", superuser=True)
    assert access.is_operator(cast.sam)
    assert access.is_operator(root)
    assert not access.is_operator(cast.alice)
    assert not access.is_operator(cast.charlie)
    assert not access.is_operator(AnonymousUser())


def test_a_deactivated_support_user_is_no_operator(cast: Cast) -> None:
    cast.sam.is_active = False
    cast.sam.save()
    assert not access.is_operator(cast.sam)
    assert access.tenant_ids_for(cast.sam) == []


def test_tenant_ids_for(cast: Cast) -> None:
    assert access.tenant_ids_for(cast.sam) is None
    assert access.tenant_ids_for(cast.alice) == [cast.acme.pk]
    assert access.tenant_ids_for(cast.charlie) == [cast.globex.pk]
    assert access.tenant_ids_for(AnonymousUser()) == []


def test_an_accountant_of_two_tenants_sees_both_but_no_third(cast: Cast) -> None:
    third = make_tenant(slug="initech")
    Membership.objects.create(user=cast.alice, tenant=cast.globex, role=Role.ACCOUNTANT)
    assert set(access.tenants_for(cast.alice)) == {cast.acme, cast.globex}
    assert not access.can_see_tenant(cast.alice, third.pk)


def test_scope_filters_rows_by_tenant(cast: Cast) -> None:
    a = builders.vendor(cast.acme, "Acme Concrete")
    g = builders.vendor(cast.globex, "Globex Steel")
    qs = SyncRecord.objects.all()
    assert list(access.scope(qs, cast.alice)) == [a]
    assert list(access.scope(qs, cast.charlie)) == [g]
    assert set(access.scope(qs, cast.sam)) == {a, g}
    assert list(access.scope(qs, AnonymousUser())) == []


def test_get_tenant_for_user_or_404(cast: Cast) -> None:
    assert access.get_tenant_for_user_or_404(cast.alice, cast.acme.pk) == cast.acme
    assert access.get_tenant_for_user_or_404(cast.sam, str(cast.globex.pk)) == cast.globex
    with pytest.raises(Http404):
        access.get_tenant_for_user_or_404(cast.charlie, cast.acme.pk)
    with pytest.raises(Http404):
        access.get_tenant_for_user_or_404(cast.alice, "not-a-number")


def test_can_see_tenant(cast: Cast) -> None:
    assert access.can_see_tenant(cast.alice, cast.acme.pk)
    assert not access.can_see_tenant(cast.charlie, cast.acme.pk)
    assert access.can_see_tenant(cast.sam, cast.acme.pk) and access.can_see_tenant(cast.sam, cast.globex.pk)


def test_can_edit_mappings_own_tenant_or_support(cast: Cast) -> None:
    assert access.can_edit_mappings(cast.alice, cast.acme.pk)
    assert not access.can_edit_mappings(cast.charlie, cast.acme.pk)
    assert access.can_edit_mappings(cast.sam, cast.globex.pk)
    assert not access.can_edit_mappings(AnonymousUser(), cast.acme.pk)


def test_can_replay_own_tenant_or_support(cast: Cast) -> None:
    assert access.can_replay(cast.alice, cast.acme.pk)
    assert not access.can_replay(cast.charlie, cast.acme.pk)
    assert access.can_replay(cast.sam, cast.acme.pk)
    assert not access.can_replay(AnonymousUser(), cast.acme.pk)


def test_only_support_manages_credentials(cast: Cast) -> None:
    assert access.can_manage_credentials(cast.sam)
    assert not access.can_manage_credentials(cast.alice)
    assert not access.can_manage_credentials(cast.charlie)


def test_has_admin_access_needs_staff_and_a_membership(cast: Cast) -> None:
    assert access.has_admin_access(cast.alice)
    assert access.has_admin_access(cast.sam)
    stranger = make_user("stranger")  # staff, but no membership
    assert not access.has_admin_access(stranger)
    cast.alice.is_staff = False
    cast.alice.save()
    assert not access.has_admin_access(cast.alice)
    assert access.has_admin_access(make_user("root", superuser=True))
