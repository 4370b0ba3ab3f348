"""Gauges read from the database when Prometheus scrapes: nothing to keep in step between processes.

- outbox depth by job state, and the age of the oldest due job (pending, not_before passed);
- records currently waiting, by kind;
- per active tenant, seconds since its Web Connector last called (absent before the first call).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from audit.metrics import PREFIX
from audit.models import JobState, PushJob, RecordState, SyncRecord
from qbwc.models import QbwcSession


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        depth = GaugeMetricFamily(f"{PREFIX}_outbox_jobs", "Outbox push jobs by state", labels=["state"])
        counts = dict(PushJob.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        for state in JobState.values:
            depth.add_metric([state], counts.get(state, 0))
        yield depth

        oldest = PushJob.objects.filter(state=JobState.PENDING, not_before__lte=now).aggregate(at=Min("not_before"))[
            "at"
        ]
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_due_seconds",
            "Seconds the oldest due outbox job has been waiting for a worker (0: none due)",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )

        waiting = GaugeMetricFamily(
            f"{PREFIX}_records_waiting", "Records waiting (mapping, vendor or reconnect)", labels=["kind"]
        )
        rows = SyncRecord.objects.filter(state=RecordState.WAITING).values_list("kind").annotate(n=Count("pk"))
        for kind, n in rows.values_list("kind", "n"):
            waiting.add_metric([kind], n)
        yield waiting

        contact = GaugeMetricFamily(
            f"{PREFIX}_qbwc_last_contact_age_seconds",
            "Seconds since each tenant's Web Connector last called",
            labels=["tenant"],
        )
        last = (
            QbwcSession.objects.filter(tenant__active=True)
            .values_list("tenant__slug")
            .annotate(at=Max("last_seen_at"))
            .values_list("tenant__slug", "at")
        )
        for slug, at in last:
            contact.add_metric([slug], max((now - at).total_seconds(), 0.0))
        yield contact
