"""QBWC conversation state: sessions, per-query watermarks, raw responses, login throttle."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import Tenant, TenantOwned


class SessionState(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Plan finished (waiting for closeConnection)"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (the Web Connector went away)"


class Step(models.TextChoices):
    """The session plan, in order. Each step is re-entrant."""

    VENDORS = "vendors", "Vendors"
    BILLS = "bills", "Bills"
    BILL_DELETIONS = "bill_deletions", "Deleted bills"
    VENDOR_DELETIONS = "vendor_deletions", "Deleted vendors"
    DONE = "done", "Done"


PLAN: tuple[str, ...] = (Step.VENDORS, Step.BILLS, Step.BILL_DELETIONS, Step.VENDOR_DELETIONS)


class QbwcSession(TenantOwned):
    """One Web Connector run, from authenticate to closeConnection (or expiry).

    The ticket itself is never stored: only its SHA-256, so a database read does not
    hand out live credentials.
    """

    # Its own index would only repeat the (tenant, state) one's leading column (Meta.indexes).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    ticket_digest = models.CharField(max_length=64, unique=True)
    ticket_hint = models.CharField(max_length=8, help_text="First characters of the ticket, for logs")
    client_address = models.CharField(
        max_length=45, blank=True, default="", help_text="Where authenticate came from (IPv4 or IPv6)"
    )
    state = models.CharField(max_length=10, choices=SessionState.choices, default=SessionState.OPEN)
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.VENDORS)
    step_started_at = models.DateTimeField(null=True, blank=True)
    iterator_id = models.CharField(max_length=64, blank=True, default="")
    iterator_remaining = models.PositiveIntegerField(null=True, blank=True)
    iterator_restarts = models.PositiveIntegerField(default=0)
    step_records = models.PositiveIntegerField(default=0, help_text="Records read so far in this step")
    request_seq = models.PositiveIntegerField(default=0, help_text="requestID of the last request sent")
    answered_seq = models.PositiveIntegerField(default=0, help_text="requestID of the last response stored")
    pending_request = models.TextField(blank=True, default="")
    progress = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    step_errors = models.JSONField(default=list, blank=True)
    hresult = models.CharField(max_length=20, blank=True, default="")
    company_name = models.CharField(max_length=255, blank=True, default="")
    company_file = models.CharField(max_length=500, blank=True, default="")
    qb_product = models.CharField(max_length=255, blank=True, default="")
    qbxml_versions = models.CharField(max_length=255, blank=True, default="", help_text="As QuickBooks listed them")
    qbxml_version = models.CharField(max_length=10, blank=True, default="")
    vendors_received = models.PositiveIntegerField(default=0)
    bills_received = models.PositiveIntegerField(default=0)
    deletions_received = models.PositiveIntegerField(default=0)
    records_changed = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    answered_sha256 = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 of the last response stored, to spot QBWC's retries"
    )
    marks = models.JSONField(
        default=dict,
        blank=True,
        help_text="The queries' watermarks as read at the first request (one read per session)",
    )
    started_at = models.DateTimeField(default=timezone.now)
    # Not indexed: every guarded write of a SOAP call sets it, and an index on a column an
    # UPDATE changes makes PostgreSQL write a new entry in every index of the table instead of
    # a heap-only (HOT) update (migration 0006 says more). Nothing looks sessions up by it: the
    # dashboards take the newest per tenant, through the tenant index.
    last_seen_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["tenant", "state"]),
            # authenticate's newest-session reads (qbwc/login.py _facts_sql); started_at never changes.
            models.Index(fields=["tenant", "-started_at"], name="qbwc_session_tenant_newest"),
        ]
        verbose_name = "QBWC session"

    def __str__(self) -> str:
        return f"QBWC session {self.ticket_hint}… ({self.state})"


class Watermark(TenantOwned):
    """How far a query has read. Advanced only after its whole step is stored."""

    # The (tenant, query) unique constraint's index serves every lookup by tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    query = models.CharField(max_length=20, choices=Step.choices)
    mark = models.DateTimeField()
    qb_utc_offset_minutes = models.IntegerField(
        null=True, blank=True, help_text="UTC offset QuickBooks' own timestamps carried when the mark moved"
    )
    # Every mark upsert sets the session: unindexed, so the upsert stays a HOT update (migration
    # 0006). Nothing reads marks by session; a session goes only with its tenant, and then
    # its marks go too (CASCADE), so the SET_NULL below has nothing to look up in practice.
    session = models.ForeignKey(
        QbwcSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "query"], name="watermark_unique_query")]

    def __str__(self) -> str:
        return f"{self.query} since {self.mark.isoformat()}"


class RawResponse(TenantOwned):
    """A qbXML response exactly as QuickBooks sent it; (session, request_seq) dedupes QBWC retries."""

    session = models.ForeignKey(QbwcSession, on_delete=models.CASCADE, related_name="responses")
    request_seq = models.PositiveIntegerField()
    step = models.CharField(max_length=20, choices=Step.choices)
    status_code = models.CharField(max_length=10, blank=True, default="")
    status_message = models.TextField(blank=True, default="")
    records = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "request_seq"], name="rawresponse_unique_request")]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.step} response #{self.request_seq}"


class LoginThrottle(models.Model):
    """Failed authenticate calls per QBWC username (whether or not the username exists).

    One row per (username, client address), and one with address "" counting the
    username's failures from every address (see qbwc.login).
    """

    ALL_ADDRESSES = ""

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=45, blank=True, default="")
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "address"], name="loginthrottle_unique_username_address")
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.address or 'all addresses'}: {self.failures} failures"
