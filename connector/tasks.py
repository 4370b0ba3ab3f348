"""Celery tasks of the composition layer (thin: each calls one function)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from connector.heartbeat import heartbeat_record


@shared_task(name="connector.heartbeat", bind=True, ignore_result=True)
def heartbeat_task(self: Any) -> None:
    """Scheduled by beat; the worker that runs it reports itself alive."""
    heartbeat_record(component="worker", hostname=self.request.hostname or "")
