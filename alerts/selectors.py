"""Reads for the dashboard: each tenant's open alerts, their recent history and what is muted."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.models import Alert, AlertKind, AlertMute

HISTORY = 10


@dataclass
class AlertPanel:
    open: list[Alert] = field(default_factory=list)
    history: list[Alert] = field(default_factory=list)
    muted: set[str] = field(default_factory=set)

    def kinds(self) -> list[tuple[str, str, bool]]:
        """(kind, label, muted) for every kind: the mute buttons."""
        return [(k, label, k in self.muted) for k, label in AlertKind.choices]


def alert_panels(*, tenant_ids: list[int]) -> dict[int, AlertPanel]:
    panels = {tid: AlertPanel() for tid in tenant_ids}
    for alert in Alert.objects.filter(tenant_id__in=tenant_ids, resolved_at__isnull=True).order_by("opened_at"):
        panels[alert.tenant_id].open.append(alert)
    for tid in tenant_ids:
        panels[tid].history = list(
            Alert.objects.filter(tenant_id=tid, resolved_at__isnull=False).order_by("-resolved_at")[:HISTORY]
        )
    for tid, kind in AlertMute.objects.filter(tenant_id__in=tenant_ids).values_list("tenant_id", "kind"):
        panels[tid].muted.add(kind)
    return panels
