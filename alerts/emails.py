"""The alert emails: plain text, one per notification, with links into the admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from alerts.models import Alert, AlertKind, NotificationKind
from tenants.models import Tenant


def absolute(path: str) -> str:
    return f"{settings.ALERTS_BASE_URL}{path}"


def subject_for(*, tenant: Tenant, alert: Alert, kind: str) -> str:
    label = AlertKind(alert.kind).label
    if kind == NotificationKind.RECOVERED:
        return f"[ml-connector] {tenant.name}: recovered — {label.lower()}"
    if kind == NotificationKind.REMINDER:
        return f"[ml-connector] {tenant.name}: still open — {label.lower()}"
    return f"[ml-connector] {tenant.name}: {label.lower()}"


def _record_lines(first: list[dict[str, Any]]) -> list[str]:
    lines = []
    for item in first:
        link = absolute(reverse("admin:audit_syncrecord_change", args=[item["id"]]))
        reason = f" — {item['reason']}" if item.get("reason") else ""
        lines.append(f"  - {item['label']}{reason}\n    timeline: {link}")
    return lines


def body_for(*, tenant: Tenant, alert: Alert, kind: str) -> str:
    dashboard = absolute(reverse("admin:index")) + f"#dashboard-{tenant.slug}"
    if kind == NotificationKind.RECOVERED:
        lines = [
            f"Good news for {tenant.name}: {AlertKind(alert.kind).label.lower()} is over.",
            f"It started {alert.opened_at:%Y-%m-%d %H:%M} UTC and cleared {alert.resolved_at:%Y-%m-%d %H:%M} UTC.",
        ]
    else:
        lines = [f"{tenant.name}: {alert.summary}"]
        first = alert.detail.get("first") or []
        if first:
            total = int(alert.detail.get("total", len(first)))
            lines += ["", f"The first {len(first)} of {total}:", *_record_lines(first)]
        lines += ["", f"Open since {alert.opened_at:%Y-%m-%d %H:%M} UTC."]
    lines += [
        "",
        f"Dashboard: {dashboard}",
        "You get this because you look after this company in ml-connector. "
        "An accountant or support can mute this kind of alert on the dashboard.",
    ]
    return "\n".join(lines) + "\n"
