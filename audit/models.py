"""The audit trail: one SyncRecord per QuickBooks object per tenant, and its append-only events.

A SyncRecord also stages the latest version QuickBooks sent (`payload`, the JSON
form of qbwc.qbtypes); procore_sync reads it from there when it pushes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import ProcoreEnvironment, TenantOwned


class RecordKind(models.TextChoices):
    VENDOR = "vendor", "Vendor"
    BILL = "bill", "Bill"


class RecordState(models.TextChoices):
    RECEIVED = "received", "Received, waiting to be pushed"
    WAITING = "waiting", "Waiting (mapping, vendor or reconnect)"
    RETRYING = "retrying", "Retrying"
    SYNCED = "synced", "In Procore"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted"


# Allowed state moves (django-oscar style): one table, one setter that enforces it.
_ALL = set(RecordState.values)
RECORD_TRANSITIONS: dict[str, set[str]] = {
    RecordState.RECEIVED: _ALL,
    RecordState.WAITING: _ALL,
    RecordState.RETRYING: _ALL,
    RecordState.SYNCED: _ALL - {RecordState.SYNCED},
    RecordState.FAILED: _ALL,
    # A deleted QuickBooks object never comes back with the same id; only a
    # replay of the deletion (retrying/failed) may move it.
    RecordState.DELETED: {RecordState.RETRYING, RecordState.FAILED, RecordState.WAITING},
}


class SyncRecord(TenantOwned):
    kind = models.CharField(max_length=10, choices=RecordKind.choices)
    qb_id = models.CharField("QuickBooks id", max_length=64, help_text="ListID or TxnID")
    label = models.CharField(max_length=255, blank=True, default="", help_text="Name or ref number")
    vendor_list_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    edit_sequence = models.CharField(max_length=64, blank=True, default="")
    qb_time_modified = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    deleted_in_qb = models.BooleanField(default=False)

    state = models.CharField(
        max_length=20, choices=RecordState.choices, default=RecordState.RECEIVED, db_index=True
    )
    state_reason = models.TextField(blank=True, default="", help_text="What a person can do about it")
    procore_environment = models.CharField(
        max_length=20, choices=ProcoreEnvironment.choices, blank=True, default=""
    )
    procore_id = models.BigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "qb_id"], name="syncrecord_unique_qb_id")
        ]
        indexes = [models.Index(fields=["tenant", "state"])]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.qb_id}"


class EventCode:
    """Stable dotted codes for SyncEvent.code."""

    QB_RECEIVED = "qb.received"
    QB_DELETED = "qb.deleted"
    MAPPING_CHOSEN = "mapping.chosen"
    MAPPING_MISSING = "mapping.missing"
    MAPPING_SAVED = "mapping.saved"
    PUSH_ATTEMPT = "procore.push.attempt"
    PUSH_SUCCEEDED = "procore.push.succeeded"
    PUSH_SKIPPED = "procore.push.skipped"
    PUSH_FAILED_TRANSIENT = "procore.push.failed.transient"
    PUSH_FAILED_PERMANENT = "procore.push.failed.permanent"
    PUSH_WAITING = "procore.push.waiting"
    PROCORE_DELETED = "procore.deleted"
    PROCORE_DROPPED = "procore.dropped"
    RECONNECT_NEEDED = "procore.reconnect_needed"
    REPLAY_REQUESTED = "replay.requested"


class AppendOnlyError(RuntimeError):
    pass


class SyncEvent(TenantOwned):
    """One step of a record's journey. Append-only: never updated, never deleted."""

    record = models.ForeignKey(SyncRecord, on_delete=models.PROTECT, related_name="events")
    code = models.CharField(max_length=64, db_index=True)
    message = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "code", "at"])]

    def __str__(self) -> str:
        return f"{self.code} @ {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A guard, not business logic: the audit trail must not be rewritten.
        if self.pk is not None:
            raise AppendOnlyError("SyncEvent rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("SyncEvent rows are append-only")
