"""The shared contract: SyncRecord and its append-only events, and the PushJob outbox.

A SyncRecord stages the latest version QuickBooks sent (`payload`, the JSON form of
audit.qbtypes); a PushJob asks for it to be pushed. qbwc writes both, procore_sync
reads them; neither imports the other.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
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

    state = models.CharField(max_length=20, choices=RecordState.choices, default=RecordState.RECEIVED, db_index=True)
    state_reason = models.TextField(blank=True, default="", help_text="What a person can do about it")
    procore_environment = models.CharField(max_length=20, choices=ProcoreEnvironment.choices, blank=True, default="")
    procore_id = models.BigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "qb_id"], name="syncrecord_unique_qb_id")]
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


# --- The outbox of Procore writes --------------------------------------------------


class PushOp(models.TextChoices):
    VENDOR_UPSERT = "vendor_upsert", "Vendor create/update"
    VENDOR_DEACTIVATE = "vendor_deactivate", "Vendor deactivate"
    BILL_UPSERT = "bill_upsert", "Bill create/update"
    BILL_DELETE = "bill_delete", "Bill delete"


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    WAITING = "waiting", "Waiting"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class JobReason(models.TextChoices):
    NONE = "", "—"
    TRANSIENT = "transient", "Transient error (will retry)"
    PERMANENT = "permanent", "Permanent error"
    NEEDS_MAPPING = "needs_mapping", "Needs a cost-code or project mapping"
    NEEDS_VENDOR = "needs_vendor", "Waiting for the vendor to reach Procore"
    NEEDS_RECONNECT = "needs_reconnect", "Procore connection must be reconnected"
    NEEDS_PROCORE = "needs_procore", "Needs a person to act in Procore (tried again by itself)"
    SUPERSEDED = "superseded", "Superseded by a newer job"
    # Issue 10: the pusher does not push for a paused or inactive tenant (the sweep re-arms on re-enable).
    TENANT_PAUSED = "tenant_paused", "Sync is paused or the tenant is inactive; resumes when re-enabled"


OPEN_JOB_STATES = (JobState.PENDING, JobState.WAITING, JobState.IN_FLIGHT)

JOB_TRANSITIONS: dict[str, set[str]] = {
    JobState.PENDING: {JobState.IN_FLIGHT, JobState.CANCELLED, JobState.WAITING, JobState.PENDING},
    JobState.IN_FLIGHT: {JobState.DONE, JobState.PENDING, JobState.WAITING, JobState.FAILED, JobState.CANCELLED},
    JobState.WAITING: {JobState.PENDING, JobState.CANCELLED, JobState.WAITING},
    JobState.FAILED: {JobState.PENDING, JobState.CANCELLED},
    JobState.DONE: set(),
    JobState.CANCELLED: set(),
}


class PushJob(TenantOwned):
    """One pending Procore operation for one record. The database is the queue of record.

    The QBWC side enqueues (audit.outbox); procore_sync runs the jobs.
    """

    record = models.ForeignKey(SyncRecord, on_delete=models.CASCADE, related_name="push_jobs")
    op = models.CharField(max_length=30, choices=PushOp.choices)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.PENDING)
    reason = models.CharField(max_length=30, choices=JobReason.choices, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    not_before = models.DateTimeField(default=timezone.now)
    in_flight_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Created by procore_sync (0001); moved here state-only (issue 9), so the table keeps its name.
        db_table = "procore_sync_pushjob"
        indexes = [
            models.Index(fields=["state", "not_before"]),
            models.Index(fields=["tenant", "state"]),
        ]
        constraints = [
            # At most one queued job per record and operation: a newer QuickBooks
            # version re-arms the queued job instead of adding another.
            models.UniqueConstraint(
                fields=["record", "op"],
                condition=Q(state__in=["pending", "waiting"]),
                name="pushjob_one_queued_per_record_op",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_op_display()} #{self.pk} ({self.state})"
