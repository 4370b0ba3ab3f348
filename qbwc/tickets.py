"""Tickets name sessions; stale sessions expire. The only way from a ticket to a tenant.

The ticket itself is never stored, only its SHA-256 (see QbwcSession).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from audit.logcontext import log_context_bind
from audit.metrics import qbwc_session_ended
from qbwc.models import LoginThrottle, QbwcSession, RawResponse, SessionState

# Raw qbXML is kept for diagnosis, not as the audit trail (SyncEvent is); big companies
# send megabytes per run, so old responses go.
RAW_RESPONSE_RETENTION_DAYS = 30


def digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def expire_stale(*, now: datetime, tenant_id: int | None = None) -> int:
    cutoff = now - timedelta(seconds=settings.QBWC_SESSION_TTL_SECONDS)
    stale = QbwcSession.objects.filter(state=SessionState.OPEN, last_seen_at__lt=cutoff)
    done = QbwcSession.objects.filter(state=SessionState.DONE, last_seen_at__lt=cutoff)
    if tenant_id is not None:
        stale, done = stale.filter(tenant_id=tenant_id), done.filter(tenant_id=tenant_id)
    n = stale.update(
        state=SessionState.EXPIRED,
        finished_at=now,
        last_error="The Web Connector stopped calling; the next run re-reads from the last stored marks.",
    )
    qbwc_session_ended(outcome="expired", count=n)
    # A finished plan whose closeConnection never came is still a complete run.
    n += done.update(state=SessionState.CLOSED, finished_at=now)
    return n


def sessions_expire(*, now: datetime | None = None) -> int:
    """Close sessions the Web Connector abandoned; forget old login failures and raw responses.

    Returns how many sessions changed.
    """
    now = now or timezone.now()
    # Failures for made-up usernames would otherwise pile up; a day is plenty to throttle.
    LoginThrottle.objects.filter(last_failure_at__lt=now - timedelta(days=1)).exclude(
        blocked_until__gt=now
    ).delete()
    RawResponse.objects.filter(received_at__lt=now - timedelta(days=RAW_RESPONSE_RETENTION_DAYS)).delete()
    return expire_stale(now=now)


def session_for(ticket: str, *, now: datetime) -> QbwcSession | None:
    """The session a ticket names, locked; expired on the spot if stale. Call in a transaction."""
    if not ticket:
        return None
    session = QbwcSession.objects.select_for_update().filter(ticket_digest=digest(ticket)).first()
    if session is None:
        return None
    log_context_bind(tenant_id=session.tenant_id, session_id=session.pk)
    ttl = timedelta(seconds=settings.QBWC_SESSION_TTL_SECONDS)
    if session.state in (SessionState.OPEN, SessionState.DONE) and session.last_seen_at < now - ttl:
        expire_stale(now=now, tenant_id=session.tenant_id)
        session.refresh_from_db()
    return session

