"""The one place that decides which tenants a user may see and what they may do.

Support staff (and superusers) watch every tenant; accountants see only the
tenants they hold a membership in. Everything tenant-owned is filtered here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, QuerySet
from django.http import Http404

from tenants.models import Membership, Role, Tenant

M = TypeVar("M", bound=Model)
AnyUser = AbstractBaseUser | AnonymousUser | Any


def _uid(user: AnyUser) -> int:
    return int(user.pk or 0)


def is_operator(user: AnyUser) -> bool:
    """Superusers and support staff: may see and act for every tenant."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Membership.objects.filter(user_id=_uid(user), role=Role.SUPPORT).exists()


def tenant_ids_for(user: AnyUser) -> list[int] | None:
    """None means "all tenants"; a list is the exact set the user may see."""
    if is_operator(user):
        return None
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return []
    return list(Membership.objects.filter(user_id=_uid(user), role=Role.ACCOUNTANT).values_list("tenant_id", flat=True))


def tenants_for(user: AnyUser) -> QuerySet[Tenant]:
    ids = tenant_ids_for(user)
    qs = Tenant.objects.all()
    return qs if ids is None else qs.filter(pk__in=ids)


def scope(qs: QuerySet[M], user: AnyUser, *, field: str = "tenant") -> QuerySet[M]:
    """Restrict a queryset of tenant-owned rows to what the user may see."""
    ids = tenant_ids_for(user)
    if ids is None:
        return qs
    return qs.filter(**{f"{field}_id__in": ids})


def get_tenant_for_user_or_404(user: AnyUser, tenant_id: int | str) -> Tenant:
    try:
        return tenants_for(user).get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError):
        raise Http404("No such tenant") from None


def can_see_tenant(user: AnyUser, tenant_id: int) -> bool:
    ids = tenant_ids_for(user)
    return ids is None or tenant_id in ids


def can_edit_mappings(user: AnyUser, tenant_id: int) -> bool:
    """Accountants map their own vendors and jobs; support staff may help anyone."""
    return can_see_tenant(user, tenant_id) and getattr(user, "is_authenticated", False)


def can_replay(user: AnyUser, tenant_id: int) -> bool:
    """Support staff and the tenant's own accountants may replay a failed sync."""
    return can_see_tenant(user, tenant_id) and getattr(user, "is_authenticated", False)


def can_manage_credentials(user: AnyUser) -> bool:
    """Procore credentials and tenant settings are for support staff only."""
    return is_operator(user)


def has_admin_access(user: AnyUser) -> bool:
    """May enter the admin at all: staff with at least one membership, or an operator."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        return False
    return is_operator(user) or Membership.objects.filter(user_id=_uid(user)).exists()
