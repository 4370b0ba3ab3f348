"""Create or update every periodic schedule in one place (idempotent).

Run after each deploy: `python manage.py setup_periodic_tasks`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

# name -> (task, every N seconds). Intervals rather than crons: these are
# heartbeat-style jobs where "every N seconds" is the natural unit.
SCHEDULES: dict[str, tuple[str, int]] = {
    # Re-sends due outbox rows whose Celery message was lost (broker restart, crash).
    "outbox sweep": ("audit.outbox_sweep", 30),
    # Returns rows stuck "in flight" (worker killed mid-push) to the queue.
    "in-flight reaper": ("procore_sync.in_flight_reap", 120),
    # Closes Web Connector sessions that stopped talking.
    "qbwc stale sessions": ("qbwc.sessions_expire", 300),
    # --- alerts (issue 12): each condition has its own check; emails are de-duplicated in the database.
    "alerts: web connector silent": ("alerts.check_qbwc_silent", 300),
    "alerts: procore reconnect": ("alerts.check_procore_reconnect", 300),
    "alerts: records failed": ("alerts.check_records_failed", 900),
    "alerts: bills waiting on a mapping": ("alerts.check_bills_waiting", 3600),
    # issue 12b: the worker that runs it records a heartbeat /readyz reads (connector.heartbeat).
    "worker heartbeat": ("connector.heartbeat", 30),
}


class Command(BaseCommand):
    help = "Create or update all Celery beat schedules (safe to run repeatedly)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for name, (task, seconds) in SCHEDULES.items():
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": interval, "enabled": True}
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} → {task} every {seconds}s")
        stale = PeriodicTask.objects.exclude(name__in=SCHEDULES).exclude(name__startswith="celery.")
        for task in stale:
            task.enabled = False
            task.save(update_fields=["enabled"])
            self.stdout.write(f"disabled unknown schedule: {task.name}")
