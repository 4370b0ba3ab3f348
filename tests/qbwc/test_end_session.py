"""Finding 4: support staff end a QBWC session from the admin; the action is audited."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.utils import timezone

from qbwc.models import QbwcSession, SessionState
from qbwc.session import UNKNOWN_TICKET, session_last_error
from qbwc.tickets import digest
from tests.conftest import Cast


def open_session(cast: Cast, ticket: str) -> QbwcSession:
    now = timezone.now()
    return QbwcSession.objects.create(
        tenant=cast.acme, ticket_digest=digest(ticket), ticket_hint=ticket[:6], started_at=now, last_seen_at=now
    )


def test_support_ends_a_session_and_its_ticket_stops_working(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    session = open_session(cast, "ticket-to-end")
    response = login("sam").post(
        "/admin/qbwc/qbwcsession/", {"action": "end_sessions", "_selected_action": [session.pk]}, follow=True
    )
    assert b"Ended 1 session" in response.content
    session.refresh_from_db()
    assert session.state == SessionState.EXPIRED and "Ended by support (sam)" in session.last_error
    assert session_last_error(ticket="ticket-to-end") == UNKNOWN_TICKET
    entry = LogEntry.objects.get(object_id=str(session.pk))
    assert entry.user.username == "sam" and "Ended the QBWC session" in entry.get_change_message()


def test_an_accountant_cannot_end_sessions(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    session = open_session(cast, "ticket-kept")
    response = login("alice").post(
        "/admin/qbwc/qbwcsession/", {"action": "end_sessions", "_selected_action": [session.pk]}, follow=True
    )
    assert b"Only support staff" in response.content
    session.refresh_from_db()
    assert session.state == SessionState.OPEN
    assert not LogEntry.objects.exists()


def test_charlie_cannot_end_acme_sessions(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    session = open_session(cast, "ticket-acme")
    login("charlie").post("/admin/qbwc/qbwcsession/", {"action": "end_sessions", "_selected_action": [session.pk]})
    session.refresh_from_db()
    assert session.state == SessionState.OPEN


def test_support_generates_a_new_qbwc_password_shown_once(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    from tenants import credentials
    from tenants.models import Tenant

    response = login("sam").post(
        "/admin/tenants/tenant/", {"action": "qbwc_password_generate", "_selected_action": [cast.acme.pk]}, follow=True
    )
    text = response.content.decode()
    assert "New QBWC password for acme: " in text
    password = text.split("New QBWC password for acme: ")[1].split("<")[0].strip()
    tenant = Tenant.objects.get(pk=cast.acme.pk)
    assert credentials.is_generated(tenant.qbwc_password) and tenant.check_qbwc_password(password)
    assert password not in login("sam").get("/admin/tenants/tenant/").content.decode()  # shown once
