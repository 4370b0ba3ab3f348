from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from qbwc.models import LoginThrottle, QbwcSession, SessionState
from qbwc.session import UNKNOWN_TICKET
from qbwc.tickets import digest
from tests.factories import PASSWORD, make_tenant
from tests.harness_qbwc import QbwcHarness


def test_a_wrong_password_is_not_a_valid_user(qbwc: QbwcHarness) -> None:
    result = qbwc.run(qbwc.company(), password="wrong")
    assert result.outcome == "nvu"
    assert result.auth == ["", "nvu"]
    assert result.calls == ["serverVersion", "clientVersion", "authenticate"]
    assert not QbwcSession.objects.exists()


def test_an_unknown_username_and_an_inactive_tenant_are_not_valid_users(qbwc: QbwcHarness) -> None:
    assert qbwc.run(qbwc.company(), username="nobody").outcome == "nvu"
    qbwc.tenant.active = False
    qbwc.tenant.save()
    assert qbwc.run(qbwc.company()).outcome == "nvu"
    assert not QbwcSession.objects.exists()


def test_repeated_failures_throttle_that_address_even_with_the_right_password(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_LOGIN_FAILURES_BEFORE_THROTTLE = 3
    for _ in range(3):
        assert qbwc.run(qbwc.company(), password="guess").outcome == "nvu"
    throttle = LoginThrottle.objects.get(username=qbwc.tenant.qbwc_username, address="127.0.0.1")
    assert throttle.failures == 3 and throttle.blocked_until is not None
    assert qbwc.run(qbwc.company()).outcome == "nvu"  # right password, same address: still blocked
    assert LoginThrottle.objects.get(pk=throttle.pk).failures == 3  # a blocked attempt is not counted

    LoginThrottle.objects.filter(pk=throttle.pk).update(blocked_until=timezone.now() - timedelta(seconds=1))
    assert qbwc.run(qbwc.company()).outcome == "done"
    assert not LoginThrottle.objects.filter(username=qbwc.tenant.qbwc_username, address="127.0.0.1").exists()


def test_a_fresh_ticket_is_long_random_and_stored_only_as_a_digest(qbwc: QbwcHarness) -> None:
    result = qbwc.run(qbwc.company())
    ticket, status, next_run = result.auth
    assert status == ""
    assert len(ticket) >= 43  # 32 random bytes, url-safe base64
    assert next_run == str(qbwc.tenant.poll_interval_minutes * 60)
    session = QbwcSession.objects.get()
    assert session.ticket_digest == digest(ticket)
    assert ticket not in session.ticket_digest


def test_a_concurrent_session_gets_busy(qbwc: QbwcHarness) -> None:
    connector = qbwc.connector(qbwc.company())
    ticket, status, _ = connector.call("authenticate", strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)
    assert status == ""
    second = qbwc.run(qbwc.company())
    assert second.outcome == "busy"
    assert second.auth == ["", "busy"]
    # The first session is untouched and can still finish.
    assert connector.call("closeConnection", ticket=ticket).startswith("0 vendors")


def test_paused_sync_and_a_run_that_just_finished_mean_none(qbwc: QbwcHarness, settings) -> None:
    qbwc.tenant.sync_paused = True
    qbwc.tenant.save()
    paused = qbwc.run(qbwc.company())
    assert paused.outcome == "none"
    assert paused.auth[2] == str(qbwc.tenant.poll_interval_minutes * 60)

    qbwc.tenant.sync_paused = False
    qbwc.tenant.save()
    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 300
    assert qbwc.run(qbwc.company()).outcome == "done"
    again = qbwc.run(qbwc.company())
    assert again.outcome == "none"
    assert 0 < int(again.auth[2]) <= 300


def test_an_expired_ticket_gets_clear_answers_and_no_data(qbwc: QbwcHarness, settings) -> None:
    connector = qbwc.connector(qbwc.company())
    ticket, _, _ = connector.call("authenticate", strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)
    qbwc.age_sessions(settings.QBWC_SESSION_TTL_SECONDS + 5)

    assert (
        connector.call(
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse="",
            strCompanyFileName="",
            qbXMLCountry="US",
            qbXMLMajorVers=13,
            qbXMLMinorVers=0,
        )
        == ""
    )
    assert connector.call("receiveResponseXML", ticket=ticket, response="<QBXML/>", hresult="", message="") == "-1"
    assert connector.call("getLastError", ticket=ticket) == UNKNOWN_TICKET
    assert connector.call("closeConnection", ticket=ticket) == UNKNOWN_TICKET
    assert QbwcSession.objects.get().state == SessionState.EXPIRED


def test_a_made_up_ticket_never_reaches_another_tenants_session(qbwc: QbwcHarness) -> None:
    globex = make_tenant(slug="globex")
    connector = qbwc.connector(qbwc.company())
    ticket, _, _ = connector.call("authenticate", strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)
    for forged in ("", "x", ticket[:-1], ticket + "x", digest(ticket)):
        assert (
            connector.call(
                "sendRequestXML",
                ticket=forged,
                strHCPResponse="",
                strCompanyFileName="",
                qbXMLCountry="US",
                qbXMLMajorVers=13,
                qbXMLMinorVers=0,
            )
            == ""
        )
        assert connector.call("getLastError", ticket=forged) == UNKNOWN_TICKET
    session = QbwcSession.objects.get()
    assert session.tenant_id == qbwc.tenant.pk and session.request_seq == 0
    assert not QbwcSession.objects.filter(tenant=globex).exists()


def test_the_periodic_task_expires_abandoned_sessions(qbwc: QbwcHarness, settings) -> None:
    from qbwc.tasks import sessions_expire_task

    connector = qbwc.connector(qbwc.company())
    connector.call("authenticate", strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)
    assert sessions_expire_task() == 0
    qbwc.age_sessions(settings.QBWC_SESSION_TTL_SECONDS + 1)
    assert sessions_expire_task() == 1
    assert QbwcSession.objects.get().state == SessionState.EXPIRED


def test_the_periodic_task_forgets_old_login_failures(qbwc: QbwcHarness) -> None:
    from qbwc.tickets import sessions_expire

    assert qbwc.run(qbwc.company(), username="made-up").outcome == "nvu"
    assert qbwc.run(qbwc.company(), username="also-made-up").outcome == "nvu"
    LoginThrottle.objects.filter(username="made-up").update(last_failure_at=timezone.now() - timedelta(days=2))
    sessions_expire()
    assert set(LoginThrottle.objects.values_list("username", flat=True)) == {"also-made-up"}


def test_the_periodic_task_drops_raw_responses_after_the_retention(qbwc: QbwcHarness) -> None:
    from qbwc.models import RawResponse
    from qbwc.tickets import RAW_RESPONSE_RETENTION_DAYS, sessions_expire

    # One company file with edits before its second run, so both runs keep responses (an empty
    # status-1 answer stores none).
    company = qbwc.company()
    assert qbwc.run(company).outcome == "done"
    assert company.apply_next_changes()
    assert qbwc.run(company).outcome == "done"
    first, second = QbwcSession.objects.order_by("started_at")
    kept = RawResponse.objects.filter(session=second).count()
    assert kept > 0 and RawResponse.objects.filter(session=first).exists()
    RawResponse.objects.filter(session=first).update(
        received_at=timezone.now() - timedelta(days=RAW_RESPONSE_RETENTION_DAYS + 1)
    )
    sessions_expire()
    assert not RawResponse.objects.filter(session=first).exists()
    assert RawResponse.objects.count() == kept
