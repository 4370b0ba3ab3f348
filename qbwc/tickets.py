"""Tickets name sessions; stale or revoked sessions end. The only way from a ticket to a tenant.

The ticket itself is never stored, only its SHA-256 (see QbwcSession).

A session's life is absolute: QBWC_SESSION_TTL_SECONDS from authenticate, whatever
the Web Connector calls meanwhile (getLastError every 30 s does not keep it alive).
It also ends at once, for every later call, when its tenant is deactivated or
paused or gets a new QBWC password, or when support ends it from the admin.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from audit.compiled_sql import get_one
from audit.logcontext import log_context_bind
from audit.metrics import qbwc_session_ended
from qbwc.logtext import printable
from qbwc.models import LoginThrottle, QbwcSession, RawResponse, SessionState
from tenants.models import Tenant

log = logging.getLogger(__name__)

# Raw qbXML is kept for diagnosis, not as the audit trail (SyncEvent is); big companies
# send megabytes per run, so old responses go.
RAW_RESPONSE_RETENTION_DAYS = 30
LIVE_STATES = (SessionState.OPEN, SessionState.DONE)
EXPIRED_TEXT = "The Web Connector session reached its time limit; the next run re-reads from the last stored marks."


def digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def _cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.QBWC_SESSION_TTL_SECONDS)


def revoked_through(tenant: Tenant, now: datetime) -> datetime | None:
    """The instant at or before which a session's start means it is revoked (None: none is).

    The same rule as revocation_reason, as one bound for a query: a deactivated or paused
    tenant revokes every session (a day ahead covers any clock skew between workers); a
    password change revokes the sessions started up to it.
    """
    if not tenant.active or tenant.sync_paused:
        return now + timedelta(days=1)
    return tenant.qbwc_password_changed_at


def revocation_reason(session: QbwcSession, tenant: Tenant) -> str:
    """Why this live session may no longer act for its tenant ("" = it may)."""
    if not tenant.active:
        return "Ended: the tenant was deactivated."
    if tenant.sync_paused:
        return "Ended: sync was paused for this tenant."
    changed = tenant.qbwc_password_changed_at
    if changed is not None and changed >= session.started_at:
        return "Ended: the QBWC password was changed."
    return ""


def _revoked_q() -> Q:
    return (
        Q(tenant__active=False) | Q(tenant__sync_paused=True) | Q(tenant__qbwc_password_changed_at__gte=F("started_at"))
    )


def expire_stale(*, now: datetime, tenant_id: int | None = None) -> int:
    """End sessions past their absolute TTL or revoked by a tenant change."""
    live = QbwcSession.objects.filter(state__in=LIVE_STATES)
    if tenant_id is not None:
        live = live.filter(tenant_id=tenant_id)
    cutoff = _cutoff(now)
    n = live.filter(state=SessionState.OPEN, started_at__lt=cutoff).update(
        state=SessionState.EXPIRED, finished_at=now, pending_request="", last_error=EXPIRED_TEXT
    )
    qbwc_session_ended(outcome="expired", count=n)
    # A finished plan whose closeConnection never came is still a complete run.
    n += live.filter(state=SessionState.DONE, started_at__lt=cutoff).update(state=SessionState.CLOSED, finished_at=now)
    for session in live.filter(_revoked_q()).select_related("tenant"):
        session_end(session=session, reason=revocation_reason(session, session.tenant), now=now)
        n += 1
    return n


def session_end(*, session: QbwcSession, reason: str, now: datetime | None = None) -> None:
    """End a live session now; its ticket gets the unknown-session answers from here on."""
    now = now or timezone.now()
    # EXPIRED is the state whose ticket is "unknown" to every later call (documented answers).
    if session.state == SessionState.OPEN:
        session.last_error = reason
        qbwc_session_ended(outcome="expired")
    session.state = SessionState.EXPIRED
    session.finished_at = session.finished_at or now
    session.pending_request = ""
    session.save(update_fields=["state", "last_error", "finished_at", "pending_request"])
    log.info("qbwc session %s ended: %s", session.pk, printable(reason))


def sessions_end_by_support(*, sessions: QuerySet[QbwcSession], user: Any) -> list[QbwcSession]:
    """Support ends live sessions from the admin; returns those it ended (for the audit log)."""
    ended: list[QbwcSession] = []
    with transaction.atomic():
        for session in sessions.select_for_update().filter(state__in=LIVE_STATES):
            session_end(session=session, reason=f"Ended by support ({user.get_username()}).")
            ended.append(session)
    return ended


def sessions_expire(*, now: datetime | None = None) -> int:
    """Close sessions the Web Connector abandoned; forget old login failures and raw responses.

    Returns how many sessions changed.
    """
    now = now or timezone.now()
    # Failures for made-up usernames would otherwise pile up; a day is plenty to throttle.
    LoginThrottle.objects.filter(last_failure_at__lt=now - timedelta(days=1)).exclude(blocked_until__gt=now).delete()
    RawResponse.objects.filter(received_at__lt=now - timedelta(days=RAW_RESPONSE_RETENTION_DAYS)).delete()
    return expire_stale(now=now)


def ticket_is_live(ticket: str) -> bool:
    """One SELECT: does the ticket name a live, unrevoked session? (Checked before a large body is parsed.)"""
    if not ticket or len(ticket) > 200:
        return False
    return (
        QbwcSession.objects.filter(
            ticket_digest=digest(ticket), state__in=LIVE_STATES, started_at__gte=_cutoff(timezone.now())
        )
        .exclude(_revoked_q())
        .exists()
    )


def session_for(ticket: str, *, now: datetime, lock: bool = True) -> QbwcSession | None:
    """The session a ticket names, with its tenant (one query); ended on the spot if stale or revoked.

    lock=True takes the row lock (call in a transaction); the SOAP calls that write with a
    guarded UPDATE (qbwc.send, qbwc.receive) read without it.
    """
    if not ticket or len(ticket) > 200:
        return None
    # Every SOAP call makes this lookup: its SQL is built once (audit/compiled_sql.py), the
    # same SELECT … JOIN tenant as select_related("tenant"), FOR UPDATE OF the session row.
    session = get_one(QbwcSession, related="tenant", where={"ticket_digest": digest(ticket)}, lock=lock)
    if session is None:
        return None
    log_context_bind(tenant_id=session.tenant_id, session_id=session.pk)
    if session.state in LIVE_STATES:
        if session.started_at < _cutoff(now):
            if session.state == SessionState.OPEN:
                session_end(session=session, reason=EXPIRED_TEXT, now=now)
            else:
                session.state = SessionState.CLOSED
                session.finished_at = session.finished_at or now
                session.save(update_fields=["state", "finished_at"])
        elif reason := revocation_reason(session, session.tenant):
            session_end(session=session, reason=reason, now=now)
    return session
