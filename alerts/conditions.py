"""The four conditions worth a person's attention, read from the database, one function each.

Each detector looks at a set of tenants at `now` and returns a Finding per tenant
whose condition holds; a tenant without a Finding is healthy for that kind. They
only read: de-duplication, muting and email live in alerts.services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min

from alerts.models import AlertKind
from audit.models import JobReason, JobState, PushJob, RecordKind, RecordState, SyncRecord
from qbwc.models import QbwcSession
from tenants.models import ConnectionStatus, ProcoreConnection, Tenant


@dataclass(frozen=True)
class Finding:
    tenant_id: int
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


Detector = Callable[[list[Tenant], dt.datetime], dict[int, Finding]]


def _ago(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"


def qbwc_silent(tenants: list[Tenant], now: dt.datetime) -> dict[int, Finding]:
    """The Web Connector last called more than N x the tenant's poll interval ago.

    A tenant whose Web Connector never called is not "silent": it is not set up yet,
    which its setup page shows. A paused tenant is told to skip runs, but QBWC still
    calls, so pausing does not silence it.
    """
    last = dict(
        QbwcSession.objects.filter(tenant_id__in=[t.pk for t in tenants])
        .values("tenant_id")
        .annotate(at=Max("last_seen_at"))
        .values_list("tenant_id", "at")
    )
    found: dict[int, Finding] = {}
    for tenant in tenants:
        seen = last.get(tenant.pk)
        if seen is None:
            continue
        allowed = dt.timedelta(minutes=max(tenant.poll_interval_minutes, 1) * settings.ALERTS_QBWC_SILENCE_FACTOR)
        if now - seen > allowed:
            found[tenant.pk] = Finding(
                tenant.pk,
                f"The Web Connector has not polled for {_ago(now - seen)} "
                f"(it should every {tenant.poll_interval_minutes} minutes). Check that the office PC is on, "
                "that QuickBooks Web Connector is running there and that Auto-Run is ticked for ml-connector.",
                {"last_seen_at": seen.isoformat(), "interval_minutes": tenant.poll_interval_minutes},
            )
    return found


def procore_reconnect(tenants: list[Tenant], now: dt.datetime) -> dict[int, Finding]:
    """The connection to the tenant's Procore environment was refused and needs a person."""
    by_tenant = {t.pk: t for t in tenants}
    found: dict[int, Finding] = {}
    for conn in ProcoreConnection.objects.filter(
        tenant_id__in=list(by_tenant), status=ConnectionStatus.NEEDS_RECONNECT
    ):
        tenant = by_tenant[conn.tenant_id]
        if conn.environment != tenant.procore_environment:
            continue  # the other environment's connection is not the one this tenant syncs with
        found[tenant.pk] = Finding(
            tenant.pk,
            f"Procore ({conn.get_environment_display()}) refused ml-connector's credentials. Nothing is pushed "
            "until someone reconnects: open the tenant's Procore connection in the admin and click Connect.",
            {"connection_id": conn.pk, "environment": conn.environment, "since": conn.updated_at.isoformat()},
        )
    return found


def _sample(qs: Any) -> list[dict[str, Any]]:
    return [
        {"id": r.pk, "label": str(r), "reason": (r.state_reason or "")[:200]}
        for r in qs.order_by("updated_at", "pk")[: settings.ALERTS_DIGEST_SAMPLE]
    ]


def records_failed(tenants: list[Tenant], now: dt.datetime) -> dict[int, Finding]:
    """Records whose push failed for good: one digest per tenant, counts by kind and the first few."""
    ids = [t.pk for t in tenants]
    counts: dict[int, dict[str, int]] = {}
    for row in (
        SyncRecord.objects.filter(tenant_id__in=ids, state=RecordState.FAILED)
        .values("tenant_id", "kind")
        .annotate(n=Count("id"))
    ):
        counts.setdefault(row["tenant_id"], {})[row["kind"]] = row["n"]
    found: dict[int, Finding] = {}
    for tid, by_kind in counts.items():
        total = sum(by_kind.values())
        words = ", ".join(
            f"{n} {RecordKind(k).label.lower()}{'' if n == 1 else 's'}" for k, n in sorted(by_kind.items())
        )
        first = _sample(SyncRecord.objects.filter(tenant_id=tid, state=RecordState.FAILED))
        found[tid] = Finding(
            tid,
            f"{total} record{'' if total == 1 else 's'} could not be pushed to Procore ({words}). "
            "Each one's timeline says why; fix the cause and replay them from the dashboard.",
            {"total": total, "by_kind": by_kind, "first": first},
        )
    return found


def bills_waiting(tenants: list[Tenant], now: dt.datetime) -> dict[int, Finding]:
    """Bills waiting on a cost-code or project mapping for longer than ALERTS_BILL_WAIT_HOURS."""
    cutoff = now - dt.timedelta(hours=settings.ALERTS_BILL_WAIT_HOURS)
    waiting = PushJob.objects.filter(
        tenant_id__in=[t.pk for t in tenants],
        state=JobState.WAITING,
        reason=JobReason.NEEDS_MAPPING,
        record__kind=RecordKind.BILL,
        created_at__lte=cutoff,
    )
    rows = waiting.values("tenant_id").annotate(n=Count("record_id", distinct=True), oldest=Min("created_at"))
    found: dict[int, Finding] = {}
    for row in rows:
        tid, n = row["tenant_id"], row["n"]
        records = SyncRecord.objects.filter(pk__in=waiting.filter(tenant_id=tid).values("record_id"))
        found[tid] = Finding(
            tid,
            f"{n} bill{'' if n == 1 else 's'} waited more than {settings.ALERTS_BILL_WAIT_HOURS} hours for a "
            f"cost-code or project mapping (the oldest since {row['oldest']:%Y-%m-%d %H:%M} UTC). "
            "Map their vendors and jobs in the admin and they go to Procore on their own.",
            {"total": n, "oldest": row["oldest"].isoformat(), "first": _sample(records)},
        )
    return found


DETECTORS: dict[str, Detector] = {
    AlertKind.QBWC_SILENT: qbwc_silent,
    AlertKind.PROCORE_RECONNECT: procore_reconnect,
    AlertKind.RECORDS_FAILED: records_failed,
    AlertKind.BILLS_WAITING: bills_waiting,
}
# Kinds that send a "recovered" email when they clear (the digests just close).
RECOVERY_NOTICE = {AlertKind.QBWC_SILENT, AlertKind.PROCORE_RECONNECT}
