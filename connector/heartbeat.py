"""Heartbeats of the Celery worker and beat, read by the readiness check.

- worker: a row on `worker_ready`, then every HEARTBEAT_SECONDS from the
  `connector.heartbeat` task that beat schedules (setup_periodic_tasks). A fresh
  worker row therefore proves beat → broker → worker → database end to end.
- beat: HeartbeatScheduler (connector.beat) writes a row from its own loop, so a
  stale worker row with a fresh beat row points at the broker or the worker.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta
from typing import Any

from celery.signals import worker_ready
from django.db import close_old_connections
from django.utils import timezone

from connector.models import Heartbeat

log = logging.getLogger(__name__)

# How often each process reports; readiness allows READINESS_HEARTBEAT_MAX_AGE_SECONDS.
HEARTBEAT_SECONDS = 30
COMPONENTS = ("worker", "beat")


def heartbeat_record(*, component: str, hostname: str = "", now: datetime | None = None) -> None:
    """Upsert this process's row. Never raises: a heartbeat must not take its process down."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown heartbeat component {component!r}")
    try:
        close_old_connections()  # beat and worker hold connections for hours
        Heartbeat.objects.update_or_create(
            component=component,
            hostname=(hostname or socket.gethostname())[:255],
            defaults={"seen_at": now or timezone.now()},
        )
    except Exception as exc:  # database down: readiness will say so from its own check
        log.warning("heartbeat %s not recorded: %s", component, type(exc).__name__)


def heartbeat_age(*, component: str, now: datetime | None = None) -> timedelta | None:
    """Age of the freshest heartbeat of `component`, or None if there never was one."""
    last = Heartbeat.objects.filter(component=component).order_by("-seen_at").values_list("seen_at", flat=True).first()
    return None if last is None else (now or timezone.now()) - last


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    hostname = getattr(sender, "hostname", "") or ""
    heartbeat_record(component="worker", hostname=hostname)


def connect_signals() -> None:
    worker_ready.connect(_on_worker_ready, weak=False, dispatch_uid="connector.heartbeat.worker_ready")
