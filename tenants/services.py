"""Tenant onboarding: validated, atomic writes used by the CLI and the admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from tenants.models import BillTarget, Membership, ProcoreEnvironment, Role, Tenant


def tenant_validate(
    *,
    slug: str,
    name: str,
    qbwc_username: str,
    procore_environment: str,
    procore_company_id: int,
    procore_project_id: int,
    poll_interval_minutes: int = 15,
    tenant_id: int | None = None,
) -> None:
    """The rules every tenant obeys: checked by tenant_create and by the admin on add and edit.

    `tenant_id` is the tenant being edited (its own slug and username are not "taken").
    Raises ValidationError with one message.
    """
    others = Tenant.objects.exclude(pk=tenant_id) if tenant_id is not None else Tenant.objects.all()
    if slugify(slug) != slug or not slug:
        raise ValidationError(f"slug {slug!r} must be lower-case letters, digits and hyphens")
    if others.filter(slug=slug).exists():
        raise ValidationError(f"a tenant with slug {slug!r} already exists")
    if not name.strip():
        raise ValidationError("name must not be empty")
    if not qbwc_username.strip():
        raise ValidationError("QBWC username must not be empty")
    if others.filter(qbwc_username=qbwc_username).exists():
        raise ValidationError(f"QBWC username {qbwc_username!r} is already used by another tenant")
    if procore_environment not in ProcoreEnvironment.values:
        raise ValidationError(
            f"Procore environment {procore_environment!r} is not one of: "
            + ", ".join(ProcoreEnvironment.values)
        )
    for label, value in (("company", procore_company_id), ("project", procore_project_id)):
        if value <= 0:
            raise ValidationError(f"Procore {label} id must be a positive number")
    if poll_interval_minutes < 1:
        raise ValidationError("poll interval must be at least 1 minute")


def qbwc_password_validate(password: str) -> None:
    """The rule for a QBWC password, wherever it is set (CLI, admin, services)."""
    if len(password) < 8:
        raise ValidationError("QBWC password must be at least 8 characters")


def tenant_create(
    *,
    slug: str,
    name: str,
    qbwc_username: str,
    qbwc_password: str,
    procore_environment: str,
    procore_company_id: int,
    procore_project_id: int,
    poll_interval_minutes: int = 15,
    active: bool = True,
    sync_paused: bool = False,
    bill_target: str = BillTarget.REQUISITION_THEN_DIRECT_COST,
) -> Tenant:
    """Validate every argument, then create the tenant. Raises ValidationError with one message."""
    tenant_validate(
        slug=slug, name=name, qbwc_username=qbwc_username, procore_environment=procore_environment,
        procore_company_id=procore_company_id, procore_project_id=procore_project_id,
        poll_interval_minutes=poll_interval_minutes,
    )
    qbwc_password_validate(qbwc_password)
    if bill_target not in BillTarget.values:
        raise ValidationError(f"bill target {bill_target!r} is not one of: " + ", ".join(BillTarget.values))

    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        qbwc_username=qbwc_username,
        procore_environment=procore_environment,
        procore_company_id=procore_company_id,
        procore_project_id=procore_project_id,
        poll_interval_minutes=poll_interval_minutes,
        active=active,
        sync_paused=sync_paused,
        bill_target=bill_target,
    )
    tenant.set_qbwc_password(qbwc_password)
    with transaction.atomic():
        tenant.save()
    return tenant


def tenant_qbwc_password_set(*, tenant: Tenant, password: str) -> None:
    qbwc_password_validate(password)
    tenant.set_qbwc_password(password)
    tenant.save(update_fields=["qbwc_password"])


def membership_add(*, tenant: Tenant, username: str, password: str, role: str) -> Membership:
    """Create the staff user if needed (setting the password) and its membership."""
    if role not in Role.values:
        raise ValidationError(f"role {role!r} is not one of: " + ", ".join(Role.values))
    if not username.strip():
        raise ValidationError("username must not be empty")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(username=username)
        if password:
            if len(password) < 8:
                raise ValidationError("password must be at least 8 characters")
            user.set_password(password)
        elif created:
            raise ValidationError("a new user needs a password")
        user.is_staff = True
        user.save()
        membership, _ = Membership.objects.update_or_create(
            user=user, tenant=tenant, defaults={"role": role}
        )
    return membership
