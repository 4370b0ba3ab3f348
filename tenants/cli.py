"""Helpers shared by the management commands (the operator's interface)."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    """The tenant with that slug, or a one-line CommandError an operator can act on."""
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise CommandError(f"no tenant with slug {slug!r}") from None
