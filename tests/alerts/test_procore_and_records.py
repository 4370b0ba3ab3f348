"""Procore refuses the token → reconnect alert; records fail → one digest; bills wait → one digest.

Procore is the emulator over real HTTP; pushes and the alert checks run on a real Celery
worker (sent by the task names setup_periodic_tasks schedules, as beat sends them).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core import mail
from django.utils import timezone

from alerts.models import Alert, AlertKind
from audit.models import JobReason, JobState, PushJob, RecordState, SyncRecord
from audit.services import record_receive
from connector.celery import app
from tenants.models import ConnectionStatus
from tests.alerts.conftest import bcc, beat_task, cast_for, run_periodic
from tests.harness_procore import Tenants, connect_with_code, qb_bill, qb_vendor, wait_for, wait_settled
from tests.procore_sync.test_resilience import push_batch


def _beat(kind: str) -> None:
    """What beat does: send the scheduled task by name; the worker runs it."""
    app.send_task(beat_task(kind))


def _wait_mail(count: int) -> None:
    wait_for(lambda: len(mail.outbox) >= count, timeout=30, message=f"{count} alert emails")


def test_a_revoked_token_alerts_acme_to_reconnect_and_recovers_after_reconnecting(
    acme_globex: Tenants, celery_worker: Any
) -> None:
    t = acme_globex
    cast_for(t.acme, t.globex)
    t.emu.state.revoke_refresh_token(t.connection(t.acme).refresh_token)
    push_batch(t.acme, "REV", 1, 1)
    wait_settled()
    assert t.connection(t.acme).status == ConnectionStatus.NEEDS_RECONNECT

    _beat("procore_reconnect")
    _wait_mail(1)
    [message] = mail.outbox
    assert bcc(message) == {"alice@example.com", "sam@example.com"}
    assert "procore needs reconnecting" in message.subject
    assert "Acme Builders" in message.subject and "reconnect" in message.body.lower()
    alert = Alert.objects.get(kind=AlertKind.PROCORE_RECONNECT)
    assert alert.tenant_id == t.acme.pk  # globex's connection is fine

    _beat("procore_reconnect")  # still refused: no second email
    wait_for(lambda: Alert.objects.get(pk=alert.pk).last_detected_at > alert.last_detected_at, message="second check")
    assert len(mail.outbox) == 1

    connect_with_code(t.acme, t.emu, "acme-client", "acme-secret")  # a person reconnects
    wait_settled()
    _beat("procore_reconnect")
    _wait_mail(2)
    assert "recovered" in mail.outbox[1].subject and bcc(mail.outbox[1]) == {"alice@example.com", "sam@example.com"}
    wait_for(lambda: Alert.objects.get(pk=alert.pk).resolved_at is not None, message="the alert to resolve")


def test_failed_pushes_send_one_digest_with_links_to_their_timelines(acme_globex: Tenants, celery_worker: Any) -> None:
    t = acme_globex
    cast_for(t.acme, t.globex)
    # Procore refuses every direct cost of acme's (a permanent 422); globex's pushes go through.
    t.emu.state.inject("status", status=422, count=1000, method="PATCH", path="direct_costs/sync")
    push_batch(t.acme, "F", 2, 3)
    wait_settled(timeout=60)
    failed = list(SyncRecord.objects.filter(tenant=t.acme, state=RecordState.FAILED).order_by("updated_at", "pk"))
    assert len(failed) == 6

    _beat("records_failed")
    _beat("records_failed")
    _wait_mail(1)
    wait_for(lambda: Alert.objects.filter(kind=AlertKind.RECORDS_FAILED).exists(), message="the alert row")
    run_periodic("records_failed")  # and once more here: still one digest
    [message] = mail.outbox
    assert bcc(message) == {"alice@example.com", "sam@example.com"}
    assert "6 records could not be pushed to Procore (6 bills)" in message.body
    links = re.findall(r"/admin/audit/syncrecord/(\d+)/change/", str(message.body))
    assert [int(x) for x in links] == [r.pk for r in failed[:5]]  # the first few, oldest first


def test_bills_waiting_on_a_mapping_too_long_send_one_digest(acme_globex: Tenants, celery_worker: Any) -> None:
    t = acme_globex
    cast_for(t.acme, t.globex)
    unmapped = qb_vendor("V-NEW", "New Drywall Co")
    record_receive(tenant=t.acme, obj=unmapped, session_id=None)
    for n in range(3):
        record_receive(tenant=t.acme, obj=qb_bill(f"W-{n}", unmapped, [("100.00", "")]), session_id=None)
    wait_settled()
    waiting = PushJob.objects.filter(tenant=t.acme, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING)
    assert waiting.count() == 3

    run_periodic("bills_waiting")  # waiting, but not yet longer than the threshold
    assert mail.outbox == []
    waiting.update(created_at=timezone.now() - timedelta(hours=49))
    _beat("bills_waiting")
    _beat("bills_waiting")
    _wait_mail(1)
    wait_for(lambda: Alert.objects.filter(kind=AlertKind.BILLS_WAITING).exists(), message="the alert row")
    [message] = mail.outbox
    assert "3 bills waited more than 48 hours" in message.body
    assert bcc(message) == {"alice@example.com", "sam@example.com"}
