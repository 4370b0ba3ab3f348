"""authenticate: credentials -> a fresh session ticket, or the reason there is none."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from audit.logcontext import log_context_bind
from qbwc.models import LoginThrottle, QbwcSession, SessionState
from qbwc.tickets import digest, expire_stale
from tenants.models import Tenant

log = logging.getLogger(__name__)


def _throttled(username: str, now: datetime) -> bool:
    row = LoginThrottle.objects.filter(username=username).first()
    return bool(row and row.blocked_until and row.blocked_until > now)


def _login_failed(username: str, now: datetime) -> None:
    with transaction.atomic():
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(username=username[:150])
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - settings.QBWC_LOGIN_FAILURES_BEFORE_THROTTLE
        if over >= 0:
            # Doubling back-off from one minute, capped at an hour.
            row.blocked_until = now + timedelta(seconds=min(3600, 60 * 2**min(over, 6)))
        row.save()


def session_authenticate(*, username: str, password: str) -> list[str]:
    """Check the QBWC credentials and open a session, or say why not.

    Validates and acts: answers ["", "nvu"] (bad/throttled/inactive), ["", "busy"]
    (a live session exists), ["", "none", seconds] (paused or ran too recently),
    else [ticket, "", seconds until the next scheduled run].
    """
    now = timezone.now()
    username = username.strip()
    if not username or _throttled(username, now):
        return ["", "nvu"]
    tenant = Tenant.objects.filter(qbwc_username=username).first()
    if tenant is None:
        make_password(password)  # same hashing cost as a real check
        ok = False
    else:
        ok = tenant.check_qbwc_password(password) and tenant.active
    if not ok or tenant is None:
        _login_failed(username, now)
        log.warning("qbwc authenticate refused for %r", username)
        return ["", "nvu"]
    LoginThrottle.objects.filter(username=username).delete()

    poll_seconds = str(tenant.poll_interval_minutes * 60)
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # one authenticate at a time
        expire_stale(now=now, tenant_id=tenant.pk)
        if QbwcSession.objects.filter(tenant=tenant, state=SessionState.OPEN).exists():
            return ["", "busy"]
        if tenant.sync_paused:
            return ["", "none", poll_seconds]
        recent = (
            QbwcSession.objects.filter(
                tenant=tenant, state__in=[SessionState.DONE, SessionState.CLOSED], finished_at__isnull=False
            )
            .order_by("-finished_at")
            .first()
        )
        # A run finished this recently means "none": a second QBWC, or "Update Selected" hammered.
        wait = settings.QBWC_MIN_SECONDS_BETWEEN_RUNS
        if recent and recent.finished_at and (now - recent.finished_at).total_seconds() < wait:
            left = wait - int((now - recent.finished_at).total_seconds())
            return ["", "none", str(max(left, 1))]
        ticket = secrets.token_urlsafe(32)  # 256 bits
        session = QbwcSession.objects.create(
            tenant=tenant, ticket_digest=digest(ticket), ticket_hint=ticket[:6], started_at=now, last_seen_at=now
        )
        log_context_bind(tenant_id=tenant.pk, session_id=session.pk)
    log.info("qbwc session opened for tenant %s", tenant.slug)
    return [ticket, "", poll_seconds]

