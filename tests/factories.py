"""Plain builders for test data (Healthchecks style: explicit, no magic)."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from tenants.models import Membership, ProcoreConnection, Role, Tenant

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_tenant(**overrides: Any) -> Tenant:
    n = next(_seq)
    slug = overrides.pop("slug", f"tenant-{n}")
    password = overrides.pop("qbwc_password", PASSWORD)
    values: dict[str, Any] = {
        "name": slug.capitalize(),
        "qbwc_username": f"{slug}-qbwc",
        "procore_environment": "sandbox",
        "procore_company_id": 1000 + n,
        "procore_project_id": 2000 + n,
    }
    values.update(overrides)
    tenant = Tenant(slug=slug, **values)
    tenant.set_qbwc_password(password)
    tenant.save()
    return tenant


def make_user(username: str, *, staff: bool = True, superuser: bool = False) -> User:
    user_model = get_user_model()
    user = user_model.objects.create_user(username=username, password=PASSWORD)
    user.is_staff = staff
    user.is_superuser = superuser
    user.save()
    return user


def make_member(username: str, tenant: Tenant, role: str = Role.ACCOUNTANT) -> User:
    user = make_user(username)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def make_connection(tenant: Tenant, **overrides: Any) -> ProcoreConnection:
    values: dict[str, Any] = {
        "environment": tenant.procore_environment,
        "client_id": "client-id-" + tenant.slug,
        "client_secret": "client-secret-" + tenant.slug,
    }
    values.update(overrides)
    return ProcoreConnection.objects.create(tenant=tenant, **values)
