"""Reads of the audit trail: a record's timeline and the failures a user may act on.

The dashboard's figures, which also read QBWC sessions, live in connector/dashboard_selectors.py.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from audit.models import RecordState, SyncEvent, SyncRecord
from tenants import access


def record_timeline(*, record: SyncRecord) -> list[SyncEvent]:
    """The record's events, oldest first: the journey from QuickBooks to Procore."""
    return list(record.events.select_related("acting_user").order_by("at", "id"))


def failures_for(user: Any) -> QuerySet[SyncRecord]:
    """Failed records the user may see (and so replay), oldest failure first."""
    qs = SyncRecord.objects.filter(state=RecordState.FAILED).select_related("tenant")
    return access.scope(qs, user).order_by("updated_at", "pk")


def failure_counts_for(user: Any) -> dict[int, int]:
    """Tenant id → number of failed records, for the tenants the user may see."""
    rows = failures_for(user).order_by().values("tenant_id").annotate(n=Count("id"))
    return {row["tenant_id"]: row["n"] for row in rows}
