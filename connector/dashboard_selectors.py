"""The admin dashboard's figures: per tenant, what synced, what waits, what failed, last contact.

Composition (connector): reads the audit trail, the outbox and the QBWC sessions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncEvent, SyncRecord
from qbwc.models import QbwcSession
from tenants import access
from tenants.models import Tenant

CHART_DAYS = 30


@dataclass
class DayCount:
    day: dt.date
    synced: int = 0
    failed: int = 0


@dataclass
class TenantDashboard:
    tenant: Tenant
    last_contact: dt.datetime | None
    synced: int
    waiting_for_mapping: int
    retrying: int
    failed: int
    oldest_failure: SyncRecord | None
    days: list[DayCount] = field(default_factory=list)


def _last_contacts(tenant_ids: list[int]) -> dict[int, dt.datetime]:
    """When each tenant's Web Connector last talked to us (None before the first session)."""
    rows = (
        QbwcSession.objects.filter(tenant_id__in=tenant_ids)
        .values("tenant_id")
        .annotate(at=Max("last_seen_at"))
        .values_list("tenant_id", "at")
    )
    return dict(rows)


def _waiting_for_mapping(tenant_ids: list[int]) -> dict[int, int]:
    rows = (
        PushJob.objects.filter(tenant_id__in=tenant_ids, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING)
        .values("tenant_id")
        .annotate(n=Count("record_id", distinct=True))
    )
    return {row["tenant_id"]: row["n"] for row in rows}


def daily_outcomes(*, tenant_ids: list[int], days: int = CHART_DAYS) -> dict[int, list[DayCount]]:
    """Per tenant and day (oldest first): pushes that succeeded and pushes that failed for good."""
    today = timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    series = {tid: [DayCount(day=first + dt.timedelta(days=i)) for i in range(days)] for tid in tenant_ids}
    rows = (
        SyncEvent.objects.filter(
            tenant_id__in=tenant_ids,
            at__gte=start,
            code__in=[EventCode.PUSH_SUCCEEDED, EventCode.PUSH_FAILED_PERMANENT],
        )
        .annotate(day=TruncDate("at"))
        .values("tenant_id", "day", "code")
        .annotate(n=Count("id"))
    )
    for row in rows:
        index = (row["day"] - first).days
        if not 0 <= index < days:
            continue
        bucket = series[row["tenant_id"]][index]
        if row["code"] == EventCode.PUSH_SUCCEEDED:
            bucket.synced += row["n"]
        else:
            bucket.failed += row["n"]
    return series


def dashboards_for(user: Any, *, limit: int = 50) -> list[TenantDashboard]:
    """One dashboard per tenant the user may see (support staff: every active tenant)."""
    tenants = list(access.tenants_for(user).filter(active=True).order_by("name")[:limit])
    ids = [t.pk for t in tenants]
    if not ids:
        return []
    states: dict[int, dict[str, int]] = {tid: {} for tid in ids}
    for row in SyncRecord.objects.filter(tenant_id__in=ids).values("tenant_id", "state").annotate(n=Count("id")):
        states[row["tenant_id"]][row["state"]] = row["n"]
    oldest_at = dict(
        SyncRecord.objects.filter(tenant_id__in=ids, state=RecordState.FAILED)
        .values("tenant_id")
        .annotate(at=Min("updated_at"))
        .values_list("tenant_id", "at")
    )
    oldest: dict[int, SyncRecord] = {}
    for tid, at in oldest_at.items():
        record = SyncRecord.objects.filter(tenant_id=tid, state=RecordState.FAILED, updated_at=at).first()
        if record is not None:
            oldest[tid] = record
    waiting = _waiting_for_mapping(ids)
    contacts = _last_contacts(ids)
    days = daily_outcomes(tenant_ids=ids)
    return [
        TenantDashboard(
            tenant=t,
            last_contact=contacts.get(t.pk),
            synced=states[t.pk].get(RecordState.SYNCED, 0),
            waiting_for_mapping=waiting.get(t.pk, 0),
            retrying=states[t.pk].get(RecordState.RETRYING, 0),
            failed=states[t.pk].get(RecordState.FAILED, 0),
            oldest_failure=oldest.get(t.pk),
            days=days[t.pk],
        )
        for t in tenants
    ]
