"""Tenant onboarding: validated, atomic writes used by the CLI and the admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from tenants import credentials
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
            f"Procore environment {procore_environment!r} is not one of: " + ", ".join(ProcoreEnvironment.values)
        )
    for label, value in (("company", procore_company_id), ("project", procore_project_id)):
        if value <= 0:
            raise ValidationError(f"Procore {label} id must be a positive number")
    if poll_interval_minutes < 1:
        raise ValidationError("poll interval must be at least 1 minute")


def qbwc_password_validate(password: str, *, generated: bool = False) -> None:
    """The rule for a QBWC password, wherever it is set (CLI, admin, services).

    A generated one (credentials.generate_password) must carry 128 bits; one an
    operator chose goes through AUTH_PASSWORD_VALIDATORS, like a user's password.
    """
    if generated:
        if len(password) < 22:  # 16 random bytes, url-safe base64: the 128-bit floor
            raise ValidationError("a generated QBWC password must carry at least 128 bits")
        return
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError("QBWC password: " + " ".join(exc.messages)) from None


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
    qbwc_password_generated: bool = False,
) -> Tenant:
    """Validate every argument, then create the tenant. Raises ValidationError with one message.

    `qbwc_password_generated`: the password came from credentials.generate_password()
    (stored as a keyed fast hash); otherwise it is an operator's choice (slow hasher).
    """
    tenant_validate(
        slug=slug,
        name=name,
        qbwc_username=qbwc_username,
        procore_environment=procore_environment,
        procore_company_id=procore_company_id,
        procore_project_id=procore_project_id,
        poll_interval_minutes=poll_interval_minutes,
    )
    qbwc_password_validate(qbwc_password, generated=qbwc_password_generated)
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
    tenant.set_qbwc_password(qbwc_password, generated=qbwc_password_generated)
    with transaction.atomic():
        tenant.save()
    return tenant


def tenant_qbwc_password_set(*, tenant: Tenant, password: str, generated: bool = False) -> None:
    """Validate and set a new QBWC password; the tenant's open sessions end with it (qbwc.tickets)."""
    qbwc_password_validate(password, generated=generated)
    tenant.set_qbwc_password(password, generated=generated)
    tenant.save(update_fields=["qbwc_password", "qbwc_password_changed_at"])


def tenant_qbwc_password_reset(*, tenant: Tenant) -> str:
    """Generate a new QBWC password (144 bits), store its keyed hash, return it to show once."""
    password = credentials.generate_password()
    tenant_qbwc_password_set(tenant=tenant, password=password, generated=True)
    return password


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
            validate_password(password, user)  # AUTH_PASSWORD_VALIDATORS, as the admin does
            user.set_password(password)
        elif created:
            raise ValidationError("a new user needs a password")
        user.is_staff = True
        user.save()
        membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
    return membership
