"""No alert storm (1 000 failures, one digest), muting, and the dashboard's alerts with their history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import mail
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertMute
from alerts.recipients import recipients_for
from alerts.services import alert_mute, alerts_check
from audit.models import RecordState, SyncRecord
from tests import builders
from tests.alerts.conftest import bcc, cast_for, run_periodic
from tests.conftest import Cast
from tests.factories import PASSWORD, make_tenant


def _cast(db: None) -> Cast:
    return cast_for(
        make_tenant(slug="acme", name="Acme Builders"), make_tenant(slug="globex", name="Globex Construction")
    )


def _login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_a_thousand_failures_send_one_digest(db: None, settings: Any) -> None:
    cast = _cast(db)
    vendor = builders.vendor(cast.acme, "Apex Concrete")
    for n in range(1000):
        builders.fail(builders.bill(cast.acme, vendor, f"INV-{n}"))
    builders.fail(builders.bill(cast.globex, builders.vendor(cast.globex, "Globex Plumbing"), "G-1"))
    assert SyncRecord.objects.filter(tenant=cast.acme, state=RecordState.FAILED).count() == 1000

    for _ in range(5):
        run_periodic("records_failed")
    acme_mail = [m for m in mail.outbox if "Acme Builders" in m.subject]
    [digest] = acme_mail
    assert "1000 records could not be pushed to Procore (1000 bills)" in digest.body
    assert digest.body.count("/admin/audit/syncrecord/") == settings.ALERTS_DIGEST_SAMPLE
    assert bcc(digest) == {"alice@example.com", "sam@example.com"}
    [globex] = [m for m in mail.outbox if "Globex" in m.subject]
    assert bcc(globex) == {"charlie@example.com", "sam@example.com"}  # never alice
    assert "INV-" not in globex.body and "Apex" not in globex.body
    assert len(mail.outbox) == 2


def test_replayed_failures_close_the_digest_and_new_ones_open_another(db: None) -> None:
    cast = _cast(db)
    record = builders.fail(builders.bill(cast.acme, builders.vendor(cast.acme, "Apex"), "INV-1"))
    run_periodic("records_failed")
    builders.sync(record)  # replayed and pushed
    run_periodic("records_failed")
    assert Alert.objects.get().resolved_at is not None
    assert len(mail.outbox) == 1  # digests close quietly; only silence and reconnect send "recovered"


def test_a_muted_kind_is_recorded_and_shown_but_sends_nothing(db: None) -> None:
    cast = _cast(db)
    alert_mute(tenant=cast.acme, kind=AlertKind.RECORDS_FAILED, user=cast.alice)
    builders.fail(builders.bill(cast.acme, builders.vendor(cast.acme, "Apex"), "INV-1"))
    later = timezone.now() + timedelta(days=3)
    for now in (timezone.now(), later):
        alerts_check(kind=AlertKind.RECORDS_FAILED, now=now)
    assert mail.outbox == []
    assert Alert.objects.get().tenant_id == cast.acme.pk
    page = _login("alice").get("/admin/").content.decode()
    assert 'data-kind="records_failed"' in page and "Records failed: muted" in page


def test_recipients_are_the_tenants_accountants_and_support_only(db: None, settings: Any) -> None:
    cast = _cast(db)
    settings.ALERTS_SUPPORT_EMAILS = ["oncall@example.com"]
    cast.charlie.is_active = False
    cast.charlie.save()
    assert recipients_for(tenant_id=cast.acme.pk) == ["alice@example.com", "oncall@example.com", "sam@example.com"]
    assert recipients_for(tenant_id=cast.globex.pk) == ["oncall@example.com", "sam@example.com"]


def test_the_dashboard_shows_open_alerts_and_history_to_the_tenants_people_only(db: None) -> None:
    cast = _cast(db)
    record = builders.fail(builders.bill(cast.acme, builders.vendor(cast.acme, "Apex"), "INV-1"))
    run_periodic("records_failed")
    builders.sync(record)
    run_periodic("records_failed")
    builders.fail(builders.bill(cast.acme, builders.vendor(cast.acme, "Bravo"), "INV-2"))
    run_periodic("records_failed")

    alice = _login("alice").get("/admin/").content.decode()
    panel = alice[alice.index('id="dashboard-acme"') :]
    assert 'class="alert-open" data-kind="records_failed"' in panel
    assert "Alert history (1 most recent)" in panel
    charlie = _login("charlie").get("/admin/").content.decode()
    assert "dashboard-acme" not in charlie and "records could not be pushed" not in charlie
    assert _login("charlie").get("/admin/alerts/alert/").content.decode().count("Acme") == 0


def test_mute_buttons_are_scoped_to_the_users_tenants(db: None) -> None:
    cast = _cast(db)
    charlie = _login("charlie")
    response = charlie.post(
        "/admin/alerts/alert/mute/", {"tenant": cast.acme.pk, "kind": "records_failed", "action": "mute"}
    )
    assert response.status_code == 404 and not AlertMute.objects.exists()
    alice = _login("alice")
    response = alice.post(
        "/admin/alerts/alert/mute/",
        {"tenant": cast.acme.pk, "kind": "records_failed", "action": "mute", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert AlertMute.objects.get().tenant_id == cast.acme.pk
    alice.post("/admin/alerts/alert/mute/", {"tenant": cast.acme.pk, "kind": "records_failed", "action": "unmute"})
    assert not AlertMute.objects.exists()
    assert alice.get("/admin/alerts/alert/mute/").status_code == 405
