"""Every tenant-owned model in the admin goes through TenantScopedAdmin (style rule 10)."""

from __future__ import annotations

from django.contrib import admin

from tenants.admin_base import TenantScopedAdmin, tenant_owned_models


def test_every_registered_tenant_owned_model_uses_the_scoped_admin() -> None:
    registered = [m for m in tenant_owned_models() if m in admin.site._registry]
    assert registered, "no tenant-owned model is registered: the test would prove nothing"
    offenders = [
        f"{m._meta.label} uses {type(admin.site._registry[m]).__name__}"
        for m in registered
        if not isinstance(admin.site._registry[m], TenantScopedAdmin)
    ]
    assert offenders == []


def test_the_screens_this_issue_needs_are_registered() -> None:
    labels = {m._meta.label for m in admin.site._registry}
    for label in (
        "audit.SyncRecord",
        "procore_sync.CostCodeMapping",
        "procore_sync.JobProjectMapping",
        "audit.PushJob",
        "tenants.ProcoreConnection",
        "tenants.Tenant",
        "qbwc.QbwcSession",
    ):
        assert label in labels, label
