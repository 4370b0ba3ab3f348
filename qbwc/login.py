"""authenticate: credentials -> a fresh session ticket, or the reason there is none.

Throttling cannot be turned against the customer: failures count per (username,
client address), so guesses from one address never block the right password from
another; and per username from all addresses together, up to a ceiling that blocks
every address but the one the tenant's last good session came from. A blocked
attempt is answered "nvu" without checking the password and without counting, so
a trickle of guesses cannot keep a block alive forever; a block doubles from
QBWC_LOGIN_BLOCK_SECONDS up to QBWC_LOGIN_BLOCK_MAX_SECONDS.

Check and count are one transaction under the tenant row's lock: concurrent
guesses for a username are checked one at a time, so a burst gets exactly the limit.

Success path: three statements (lock the tenant; one SELECT of throttle and session
facts; INSERT the session).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Field
from django.utils import timezone

from audit.compiled_sql import column_field, fetch_row, get_one, insert_one
from audit.logcontext import log_context_bind
from qbwc.logtext import printable
from qbwc.models import LoginThrottle, QbwcSession, SessionState
from qbwc.tickets import _cutoff, digest, expire_stale, revoked_through
from tenants import credentials
from tenants.models import Tenant

log = logging.getLogger(__name__)
NVU = ["", "nvu"]


@dataclass(frozen=True)
class Facts:
    pair_failures: int = 0
    pair_blocked_until: datetime | None = None
    user_failures: int = 0
    user_blocked_until: datetime | None = None
    open_live: bool = False
    open_stale: bool = False
    last_finished_at: datetime | None = None
    last_address: str | None = None


def _facts(username: str, address: str, tenant: Tenant | None, now: datetime) -> Facts:
    """Everything authenticate decides on, read in one SELECT (after the tenant lock).

    An unknown username runs the same statement (tenant id 0 matches no session), so it
    costs what a known one costs.
    """
    tenant_id = tenant.pk if tenant is not None else 0
    # Sessions started at or before this instant are revoked (see tickets.revoked_through).
    revoked = (revoked_through(tenant, now) if tenant is not None else None) or datetime(1970, 1, 1, tzinfo=UTC)
    row = fetch_row(
        _facts_sql,
        [
            username, address, username, address,
            username, LoginThrottle.ALL_ADDRESSES, username, LoginThrottle.ALL_ADDRESSES,
            tenant_id, SessionState.OPEN, _cutoff(now), revoked,
            tenant_id, SessionState.OPEN, SessionState.DONE, _cutoff(now), revoked,
            tenant_id, SessionState.DONE, SessionState.CLOSED,
            tenant_id,
        ],
        planned_each_time=True,  # which index pays depends on the tenant's history (compiled_sql._unprepared)
    )  # fmt: skip
    assert row is not None  # a SELECT of scalar subqueries always has its one row
    pair_failures, pair_blocked, user_failures, user_blocked, open_live, open_stale, finished, last_address = row
    return Facts(
        pair_failures=pair_failures or 0,
        pair_blocked_until=pair_blocked,
        user_failures=user_failures or 0,
        user_blocked_until=user_blocked,
        open_live=bool(open_live),
        open_stale=bool(open_stale),
        last_finished_at=finished,
        last_address=last_address,
    )


def _facts_sql(qn: Callable[[str], str]) -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any] | None]]:
    """authenticate's one SELECT (built once per database by audit.compiled_sql): the throttle
    rows of the pair and of the username, whether the tenant has a live session that may go on
    (open, within its TTL, started after any revocation) or one to expire, when its last run
    finished and where its last session came from.

    A tenant keeps every session (96 a day at 15-minute polls), so the last two are read
    newest-first on the (tenant, started_at) index, a few index entries whatever the history:
    a tenant's runs never overlap (a live one answers "busy", a stale one is expired), so its
    newest finished run is also the one that finished last.
    """
    lt, qs = qn(LoginThrottle._meta.db_table), qn(QbwcSession._meta.db_table)

    def t(name: str) -> Field[Any, Any]:
        return column_field(LoginThrottle, name)

    def s(name: str) -> Field[Any, Any]:
        return column_field(QbwcSession, name)

    # Column names from the same fields that prepare the parameters and convert the results.
    username, address, failures, blocked = (
        qn(str(t(n).column)) for n in ("username", "address", "failures", "blocked_until")
    )
    tenant, state, started, finished, client = (
        qn(str(s(n).column)) for n in ("tenant", "state", "started_at", "finished_at", "client_address")
    )
    pair = f"FROM {lt} WHERE {username} = %s AND {address} = %s"
    sql = (
        f"SELECT (SELECT {failures} {pair}), (SELECT {blocked} {pair}), "  # noqa: S608 (names from the models)
        f"(SELECT {failures} {pair}), (SELECT {blocked} {pair}), "
        f"EXISTS (SELECT 1 FROM {qs} WHERE {tenant} = %s AND {state} = %s AND {started} >= %s AND {started} > %s), "
        f"EXISTS (SELECT 1 FROM {qs} WHERE {tenant} = %s AND {state} IN (%s, %s) "
        f"AND ({started} < %s OR {started} <= %s)), "
        f"(SELECT {finished} FROM {qs} WHERE {tenant} = %s AND {state} IN (%s, %s) ORDER BY {started} DESC LIMIT 1), "
        f"(SELECT {client} FROM {qs} WHERE {tenant} = %s ORDER BY {started} DESC LIMIT 1)"
    )
    pair_fields = [t("username"), t("address")]
    params = [*pair_fields * 4, s("tenant"), s("state"), s("started_at"), s("started_at"),
              s("tenant"), s("state"), s("state"), s("started_at"), s("started_at"),
              s("tenant"), s("state"), s("state"), s("tenant")]  # fmt: skip
    out = [t("failures"), t("blocked_until"), t("failures"), t("blocked_until"),
           None, None, s("finished_at"), s("client_address")]  # fmt: skip
    return sql, params, out


def _blocked(facts: Facts, *, address: str, now: datetime) -> bool:
    if facts.pair_blocked_until and facts.pair_blocked_until > now:
        return True
    user_blocked = facts.user_blocked_until and facts.user_blocked_until > now
    # The ceiling for all addresses never shuts out where the tenant's Web Connector last logged in from.
    return bool(user_blocked) and not (address and facts.last_address == address)


def _block_until(failures: int, limit: int, now: datetime) -> datetime | None:
    over = failures - limit
    if over < 0:
        return None
    seconds = min(settings.QBWC_LOGIN_BLOCK_MAX_SECONDS, settings.QBWC_LOGIN_BLOCK_SECONDS * 2 ** min(over, 20))
    return now + timedelta(seconds=seconds)


def _count_failure(username: str, address: str, facts: Facts, now: datetime) -> None:
    """Count one failure for the pair and for the username (inside the caller's transaction)."""
    pair_limit = settings.QBWC_LOGIN_FAILURES_BEFORE_THROTTLE
    user_limit = settings.QBWC_LOGIN_FAILURES_PER_USERNAME
    for addr, failures, limit in (
        (address, facts.pair_failures + 1, pair_limit),
        (LoginThrottle.ALL_ADDRESSES, facts.user_failures + 1, user_limit),
    ):
        LoginThrottle.objects.update_or_create(
            username=username,
            address=addr,
            defaults={
                "failures": failures,
                "last_failure_at": now,
                "blocked_until": _block_until(failures, limit, now),
            },
        )


def session_authenticate(*, username: str, password: str, client_address: str = "") -> list[str]:
    """Check the QBWC credentials and open a session, or say why not.

    Validates and acts: answers ["", "nvu"] (bad/throttled/inactive), ["", "busy"]
    (a live session exists), ["", "none", seconds] (paused or ran too recently),
    else [ticket, "", seconds until the next scheduled run].
    """
    now = timezone.now()
    username = username.strip()[:150]
    address = client_address[:45]
    if not username:
        return NVU
    with transaction.atomic():
        # Statement 1: the tenant, locked, so this username's logins are checked one at a time.
        tenant = get_one(Tenant, where={"qbwc_username": username}, lock=True)
        facts = _facts(username, address, tenant, now)  # statement 2
        if _blocked(facts, address=address, now=now):
            log.warning("qbwc authenticate throttled for %s from %s", printable(username, limit=60), address or "?")
            return NVU
        if tenant is None:
            ok = credentials.verify_nobody(password)
        else:
            ok = tenant.check_qbwc_password(password) and tenant.active
        if not ok or tenant is None:
            _count_failure(username, address, facts, now)
            log.warning("qbwc authenticate refused for %s from %s", printable(username, limit=60), address or "?")
            return NVU
        if facts.pair_failures:
            LoginThrottle.objects.filter(username=username, address=address).delete()
        if credentials.needs_rehash(tenant.qbwc_password):
            tenant.set_qbwc_password(password, generated=True)
            Tenant.objects.filter(pk=tenant.pk).update(qbwc_password=tenant.qbwc_password)
        poll_seconds = str(tenant.poll_interval_minutes * 60)
        if facts.open_stale:
            expire_stale(now=now, tenant_id=tenant.pk)
        if facts.open_live:
            return ["", "busy"]
        if tenant.sync_paused:
            return ["", "none", poll_seconds]
        # A run finished this recently means "none": a second QBWC, or "Update Selected" hammered.
        wait = settings.QBWC_MIN_SECONDS_BETWEEN_RUNS
        finished = facts.last_finished_at
        if finished and (now - finished).total_seconds() < wait:
            left = wait - int((now - finished).total_seconds())
            return ["", "none", str(max(left, 1))]
        ticket = secrets.token_urlsafe(32)  # 256 bits
        # Statement 3, its INSERT built once (audit/compiled_sql.py; nothing listens to its signals).
        session = insert_one(
            QbwcSession(
                tenant=tenant,
                ticket_digest=digest(ticket),
                ticket_hint=ticket[:6],
                client_address=address,
                started_at=now,
                last_seen_at=now,
            )
        )
        log_context_bind(tenant_id=tenant.pk, session_id=session.pk)
    log.info("qbwc session opened for tenant %s", tenant.slug)
    return [ticket, "", poll_seconds]
