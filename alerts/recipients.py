"""Who hears about a tenant's alerts: its own accountants and the support staff, nobody else."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from tenants.models import Role


def recipients_for(*, tenant_id: int) -> list[str]:
    """Addresses for one tenant's alerts, sorted and de-duplicated.

    Accountants count only through a membership in *this* tenant; support staff
    (a support membership anywhere, as tenants.access.is_operator reads it) watch
    every tenant. Inactive users and users without an address get nothing.
    """
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    accountants = users.filter(memberships__tenant_id=tenant_id, memberships__role=Role.ACCOUNTANT)
    support = users.filter(memberships__role=Role.SUPPORT)
    emails = set(accountants.values_list("email", flat=True)) | set(support.values_list("email", flat=True))
    emails |= {e for e in settings.ALERTS_SUPPORT_EMAILS if e}
    return sorted(emails, key=str.lower)
