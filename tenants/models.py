"""Tenants (one construction firm each), who may act for them, and their Procore credentials."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from encrypted_fields.fields import EncryptedTextField

from tenants import credentials


class ProcoreEnvironment(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox"
    PRODUCTION = "production", "Production"


class BillTarget(models.TextChoices):
    """Where a QuickBooks bill lands in Procore (see procore_sync.payloads)."""

    REQUISITION_THEN_DIRECT_COST = "requisition_then_direct_cost", "Subcontractor invoice, else direct cost"
    DIRECT_COST_ONLY = "direct_cost_only", "Direct cost only"
    REQUISITION_ONLY = "requisition_only", "Subcontractor invoice only (wait otherwise)"


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    active = models.BooleanField(default=True)
    sync_paused = models.BooleanField(
        default=False, help_text="While paused, the Web Connector is told there is nothing to do."
    )

    qbwc_username = models.CharField("QBWC username", max_length=150, unique=True)
    # A hash, never the password itself: HMAC-SHA-256 for a generated password, a
    # Django password hash (PBKDF2) for one an operator chose (tenants.credentials).
    qbwc_password = models.CharField("QBWC password hash", max_length=256)
    # Sessions opened before this are revoked (tickets of an old password stop working).
    qbwc_password_changed_at = models.DateTimeField("QBWC password changed", null=True, blank=True)
    qbwc_owner_id = models.UUIDField("QBWC OwnerID", default=uuid.uuid4, editable=False)
    qbwc_file_id = models.UUIDField("QBWC FileID", default=uuid.uuid4, editable=False)
    poll_interval_minutes = models.PositiveIntegerField(default=15)

    procore_environment = models.CharField(
        max_length=20, choices=ProcoreEnvironment.choices, default=ProcoreEnvironment.SANDBOX
    )
    # Procore ids can exceed 32 bits.
    procore_company_id = models.BigIntegerField()
    procore_project_id = models.BigIntegerField(help_text="Default project for bills with no job mapping")
    bill_target = models.CharField(
        max_length=40, choices=BillTarget.choices, default=BillTarget.REQUISITION_THEN_DIRECT_COST
    )

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_qbwc_password(self, raw: str, *, generated: bool = False) -> None:
        self.qbwc_password = credentials.hash_generated(raw) if generated else credentials.hash_chosen(raw)
        self.qbwc_password_changed_at = timezone.now()

    def check_qbwc_password(self, raw: str) -> bool:
        # Both verifiers compare in constant time.
        return credentials.verify(raw, self.qbwc_password)


class Role(models.TextChoices):
    ACCOUNTANT = "accountant", "Accountant"
    SUPPORT = "support", "Support staff"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.tenant} ({self.role})"


class TenantOwned(models.Model):
    """Base for every model that belongs to one tenant.

    Its admin must derive from tenants.admin_base.TenantScopedAdmin; a test enforces it.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class ConnectionStatus(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    CONNECTED = "connected", "Connected"
    NEEDS_RECONNECT = "needs_reconnect", "Reconnect needed"


class ProcoreConnection(TenantOwned):
    """OAuth2 credentials for one tenant in one Procore environment.

    Sandbox and production are separate rows: own client id/secret, own tokens.
    Every secret is Fernet-encrypted at rest and write-only in the admin.
    An unset secret is NULL (the encrypted field stores no empty string).
    """

    environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices)
    client_id = EncryptedTextField(null=True, blank=True, default=None)
    client_secret = EncryptedTextField(null=True, blank=True, default=None)
    access_token = EncryptedTextField(null=True, blank=True, default=None)
    refresh_token = EncryptedTextField(null=True, blank=True, default=None)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    grant_type = models.CharField(max_length=40, blank=True, default="client_credentials")
    status = models.CharField(max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.NOT_CONNECTED)
    status_detail = models.TextField(blank=True, default="")
    company_name = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "environment"], name="procore_connection_unique")]

    def __str__(self) -> str:
        return f"{self.tenant} · Procore {self.environment}"

    def __repr__(self) -> str:
        # Never let a secret reach a log line through repr().
        return f"<ProcoreConnection tenant={self.tenant_id} env={self.environment} status={self.status}>"
