"""Alerts fixtures: the two-tenant cast with email addresses, and the beat tasks run by name."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.core.management import call_command
from django.test import TestCase
from django_celery_beat.models import PeriodicTask

import alerts.tasks  # noqa: F401 - registers the task names with the Celery app (as the worker's autodiscovery does)
from tenants.models import Role, Tenant
from tests.conftest import Cast
from tests.factories import make_member

KINDS = {
    "qbwc_silent": "alerts.check_qbwc_silent",
    "procore_reconnect": "alerts.check_procore_reconnect",
    "records_failed": "alerts.check_records_failed",
    "bills_waiting": "alerts.check_bills_waiting",
}


def beat_task(kind: str) -> str:
    """The task name beat sends for this alert kind, as setup_periodic_tasks registered it."""
    if not PeriodicTask.objects.filter(task=KINDS[kind]).exists():
        call_command("setup_periodic_tasks", verbosity=0)
    return PeriodicTask.objects.get(task=KINDS[kind], enabled=True).task


def run_periodic(kind: str) -> Any:
    """Run the scheduled task in this process through Celery's task machinery (no worker needed).

    Inside the test's transaction nothing commits, so the emails the service sends on commit are
    run as the commit would run them.
    """
    with TestCase.captureOnCommitCallbacks(execute=True):
        return current_app.tasks[beat_task(kind)].apply().get()


def cast_for(acme: Tenant, globex: Tenant) -> Cast:
    """alice (acme's accountant), charlie (globex's), sam (support staff), each with an address."""
    cast = Cast(
        acme=acme,
        globex=globex,
        alice=make_member("alice", acme),
        charlie=make_member("charlie", globex),
        sam=make_member("sam", acme, role=Role.SUPPORT),
    )
    for user in (cast.alice, cast.charlie, cast.sam):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    return cast


def bcc(message: Any) -> set[str]:
    return set(message.to) | set(message.bcc)
