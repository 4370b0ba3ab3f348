"""Thin Celery interface: the periodic expiry of abandoned QBWC sessions."""

from __future__ import annotations

from celery import shared_task

from qbwc.tickets import sessions_expire


@shared_task(name="qbwc.sessions_expire")
def sessions_expire_task() -> int:
    return sessions_expire()
