"""Thin Celery interface: one periodic check per alert kind (schedules in setup_periodic_tasks)."""

from __future__ import annotations

from celery import shared_task

from alerts.models import AlertKind
from alerts.services import alerts_check


def _run(kind: str) -> int:
    result = alerts_check(kind=kind)
    return len(result.opened) + len(result.resolved)


@shared_task(name="alerts.check_qbwc_silent")
def check_qbwc_silent_task() -> int:
    return _run(AlertKind.QBWC_SILENT)


@shared_task(name="alerts.check_procore_reconnect")
def check_procore_reconnect_task() -> int:
    return _run(AlertKind.PROCORE_RECONNECT)


@shared_task(name="alerts.check_records_failed")
def check_records_failed_task() -> int:
    return _run(AlertKind.RECORDS_FAILED)


@shared_task(name="alerts.check_bills_waiting")
def check_bills_waiting_task() -> int:
    return _run(AlertKind.BILLS_WAITING)
