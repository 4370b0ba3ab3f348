"""Alerts: one row per open condition per tenant (history kept), the emails sent, and mutes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.models import TenantOwned


class AlertKind(models.TextChoices):
    QBWC_SILENT = "qbwc_silent", "Web Connector stopped polling"
    PROCORE_RECONNECT = "procore_reconnect", "Procore needs reconnecting"
    RECORDS_FAILED = "records_failed", "Records failed"
    BILLS_WAITING = "bills_waiting", "Bills waiting on a mapping"


class Alert(TenantOwned):
    """One occurrence of a condition, from first detection to resolution.

    While a condition lasts there is exactly one open row (resolved_at is NULL) for
    its tenant and kind; a resolved row stays as history and is never reopened.
    """

    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    summary = models.TextField(help_text="What is wrong, as last detected")
    detail = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_detected_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind"], condition=Q(resolved_at__isnull=True), name="alert_one_open_per_kind"
            )
        ]
        indexes = [models.Index(fields=["tenant", "kind", "resolved_at"])]

    def __str__(self) -> str:
        state = "open" if self.resolved_at is None else "resolved"
        return f"{self.get_kind_display()} ({state})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class NotificationKind(models.TextChoices):
    OPENED = "opened", "Alert"
    REMINDER = "reminder", "Reminder (still open)"
    RECOVERED = "recovered", "Recovered"


class Notification(TenantOwned):
    """One email sent about an alert (who got it is kept as a count, not a list of addresses)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject = models.CharField(max_length=255)
    recipients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class AlertMute(TenantOwned):
    """A tenant's alert kind that sends no email (still detected and shown on the dashboard)."""

    kind = models.CharField(max_length=30, choices=AlertKind.choices)
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="alertmute_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} muted"
