"""The Web Connector stops polling: one alert after 3 x the interval, at most one a day, and "recovered"."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from alerts.models import Alert, AlertKind, Notification, NotificationKind
from tests.alerts.conftest import bcc, cast_for, run_periodic
from tests.factories import make_tenant
from tests.harness_qbwc import QbwcHarness


def test_silence_alerts_acme_people_once_a_day_and_recovers_when_it_polls_again(qbwc: QbwcHarness) -> None:
    cast = cast_for(qbwc.tenant, make_tenant(slug="globex", name="Globex Construction"))
    company = qbwc.company()
    assert qbwc.run(company).outcome == "done"
    run_periodic("qbwc_silent")
    assert mail.outbox == [] and not Alert.objects.exists()

    interval = cast.acme.poll_interval_minutes * 60
    qbwc.age_sessions(3 * interval - 60)  # not yet 3 x the interval: still fine
    run_periodic("qbwc_silent")
    assert mail.outbox == []

    qbwc.age_sessions(3 * interval + 60)
    run_periodic("qbwc_silent")
    [message] = mail.outbox
    assert bcc(message) == {"alice@example.com", "sam@example.com"}  # never charlie (globex)
    assert "Acme Builders" in message.subject and "has not polled for 46 minutes" in message.body
    alert = Alert.objects.get()
    assert (alert.tenant_id, alert.kind, alert.resolved_at) == (cast.acme.pk, AlertKind.QBWC_SILENT, None)

    # Still silent an hour later: the open alert is updated, nobody is emailed again.
    qbwc.age_sessions(3 * interval + 3600)
    run_periodic("qbwc_silent")
    assert len(mail.outbox) == 1 and Alert.objects.count() == 1

    # A day after the first email, one reminder.
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=timezone.now() - timedelta(hours=24, minutes=1))
    run_periodic("qbwc_silent")
    run_periodic("qbwc_silent")
    assert len(mail.outbox) == 2 and "still open" in mail.outbox[1].subject

    # The Web Connector polls again: one "recovered" message, and the alert becomes history.
    assert qbwc.run(company).outcome == "done"
    run_periodic("qbwc_silent")
    run_periodic("qbwc_silent")
    assert len(mail.outbox) == 3
    recovered = mail.outbox[2]
    assert "recovered" in recovered.subject and bcc(recovered) == {"alice@example.com", "sam@example.com"}
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    kinds = list(Notification.objects.filter(alert=alert).order_by("sent_at", "pk").values_list("kind", flat=True))
    assert kinds == [NotificationKind.OPENED, NotificationKind.REMINDER, NotificationKind.RECOVERED]

    # A new silence opens a new alert; the old one stays in the history.
    qbwc.age_sessions(3 * interval + 60)
    run_periodic("qbwc_silent")
    assert Alert.objects.count() == 2 and Alert.objects.filter(resolved_at__isnull=True).count() == 1


def test_a_tenant_that_never_polled_is_not_silent_but_not_set_up(qbwc: QbwcHarness) -> None:
    cast_for(qbwc.tenant, make_tenant(slug="globex", name="Globex Construction"))
    run_periodic("qbwc_silent")
    assert mail.outbox == [] and not Alert.objects.exists()
