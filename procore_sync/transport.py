"""The Procore transport: the only code in the service that talks HTTP to Procore.

It takes a credentials dataclass (never a model) and a TokenSource that knows
how to refresh them (procore_sync.tokens does that under a row lock); it never
touches the ORM. Every request has a timeout, sends the bearer token and the
`Procore-Company-Id` header, and is recorded (method, path, status, duration)
with secrets redacted.

Retry policy, in one place. The client never sleeps: a worker that waited here
would hold a slot other tenants need, so every delay becomes a typed error and
the outbox reschedules the job (`not_before`, per tenant):
- 401: refresh the token once, then AuthError.
- 429, or the connection's window nearly used up (pacing): RateLimited with the
  seconds until `Retry-After` / the window reset.
- 5xx, timeouts, connection errors: an idempotent request (GET, PATCH, DELETE;
  sync actions match by id/origin_id) is sent again at once, up to
  PROCORE_MAX_ATTEMPTS in all; then, or with a `Retry-After`, TransientError. A non-idempotent create that may have reached Procore (a
  read timeout, a dropped response) says so with `maybe_committed=True`: the
  retry looks the record up by origin_id first.
- other 4xx: permanent, with Procore's message — one attempt, never retried.

Reference: https://developers.procore.com/documentation/rate-limiting
Reference: https://developers.procore.com/documentation/restful-api-usage
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from audit.metrics import procore_call_observed
from audit.redact import redact, redact_text, redact_url
from procore_sync.errors import (
    AuthError,
    Forbidden,
    NotFound,
    ProcoreError,
    RateLimited,
    TransientError,
    ValidationFailed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcoreCredentials:
    """Everything needed to call one Procore environment for one company."""

    environment: str
    api_url: str
    login_url: str
    company_id: int
    client_id: str
    client_secret: str
    access_token: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    grant_type: str = "client_credentials"
    connection_id: int | None = None

    def __repr__(self) -> str:
        # Secrets never reach a log line through repr().
        return (
            f"ProcoreCredentials(env={self.environment}, company={self.company_id}, "
            f"connection={self.connection_id}, expires_at={self.expires_at})"
        )

    __str__ = __repr__

    def needs_refresh(self, now: datetime, margin_seconds: float) -> bool:
        if not self.access_token or self.expires_at is None:
            return True
        return self.expires_at - now < timedelta(seconds=margin_seconds)


class TokenSource(Protocol):
    def refresh(self, stale: ProcoreCredentials) -> ProcoreCredentials:
        """Return credentials with a fresh access token (may raise ReconnectNeeded)."""


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange, safe to store in the audit trail."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "ms": self.duration_ms,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Response:
    status: int
    data: Any
    headers: dict[str, str]
    links: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class RateState:
    """What the last response of one connection said about its rate-limit window.

    One per connection (built from the database by tokens.client_for and saved back after the
    job), never a process-wide registry: two tenants on two Procore apps never share it, and
    a test starts from whatever its own connection row says.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds

    def update(self, headers: Any) -> None:
        try:
            limit = int(headers["X-Rate-Limit-Limit"])
            remaining = int(headers["X-Rate-Limit-Remaining"])
            reset_at = float(headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError, TypeError):
            return
        self.limit, self.remaining, self.reset_at = limit, remaining, reset_at

    def pause_before_next(self, now: float) -> float:
        """Seconds this connection should wait before its next request (0 = go)."""
        if self.remaining is None or self.reset_at is None or self.limit is None:
            return 0.0
        left = self.reset_at - now
        if left <= 0:
            return 0.0
        if self.remaining <= 0:
            return left
        # Spread the last tenth of the window's quota over the time left, so several
        # jobs sharing the quota slow down instead of hitting 429.
        if self.remaining < max(1, self.limit // 10):
            return left / (self.remaining + 1)
        return 0.0


def _error_message(data: Any, fallback: str) -> str:
    """Procore's own words: `errors` (field → messages), `error`, or `message`."""
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts = [f"{k} {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items()]
            return "; ".join(parts) or fallback
        if isinstance(errors, list | str) and errors:
            return "; ".join(map(str, errors)) if isinstance(errors, list) else errors
        for key in ("error_description", "error", "message"):
            if data.get(key):
                return str(data[key])
    return fallback


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return {"error": resp.text[:500]}


class Transport:
    """One tenant's connection to one Procore environment: session, token, rate window, call recorder.

    Endpoint functions live in client.py (ProcoreClient); OAuth's token endpoint in oauth.py.
    """

    def __init__(
        self,
        credentials: ProcoreCredentials,
        *,
        token_source: TokenSource | None = None,
        session: requests.Session | None = None,
        recorder: Callable[[CallRecord], None] | None = None,
        rate: RateState | None = None,
    ) -> None:
        self.credentials = credentials
        self.token_source = token_source
        self.session = session or requests.Session()
        self.recorder = recorder
        self.calls: list[CallRecord] = []
        self.rate = rate if rate is not None else RateState()

    # --- transport -------------------------------------------------------------

    def _refresh(self) -> None:
        if self.token_source is None:
            raise AuthError("access token expired and no token source to refresh it")
        started = time.monotonic()
        try:
            self.credentials = self.token_source.refresh(self.credentials)
        except ProcoreError as exc:
            ms = int((time.monotonic() - started) * 1000)
            self._record(CallRecord("POST", "/oauth/token", exc.status, ms, redact_text(str(exc))[:200]))
            raise
        # The token source may have found a token another worker just fetched: "refresh" then means reuse.
        self._record(CallRecord("POST", "/oauth/token", 200, int((time.monotonic() - started) * 1000)))

    def _record(self, record: CallRecord) -> None:
        self.calls.append(record)
        procore_call_observed(method=record.method, path=record.path, status=record.status, error=record.error)
        if self.recorder is not None:
            self.recorder(record)
        log.debug("procore %s %s -> %s (%sms)", record.method, record.path, record.status, record.duration_ms)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        company_header: bool = True,
        idempotent: bool | None = None,
        url: str | None = None,
    ) -> Response:
        """Send one logical request, applying the retry policy in the module docstring.

        Never sleeps: a worker that waited here would hold a slot other tenants need. Pacing,
        429 and 5xx become typed errors with a delay, and the job is rescheduled (`not_before`).
        """
        if idempotent is None:
            idempotent = method.upper() != "POST"
        max_attempts = settings.PROCORE_MAX_ATTEMPTS
        refreshed = False
        attempt = 0
        # Proactive refresh (Procore: refresh before expiry rather than wait for a 401).
        if self.credentials.needs_refresh(timezone.now(), settings.PROCORE_TOKEN_REFRESH_MARGIN_SECONDS):
            self._refresh()
        while True:
            pause = self.rate.pause_before_next(time.time())
            if pause > 0:
                # Leave the end of the window to whoever needs it; this job comes back later.
                raise RateLimited("rate limit window nearly used up: paced", retry_after=pause)
            attempt += 1
            headers = {
                "Authorization": f"Bearer {self.credentials.access_token}",
                "Accept": "application/json",
            }
            if company_header:
                headers["Procore-Company-Id"] = str(self.credentials.company_id)
            full_url = url or (self.credentials.api_url + path)
            shown = _shown_path(method, full_url, params)
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    full_url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=settings.PROCORE_TIMEOUT_SECONDS,
                )
            except requests.RequestException as exc:
                elapsed = int((time.monotonic() - started) * 1000)
                kind = "timeout" if isinstance(exc, requests.Timeout) else "connection error"
                self._record(CallRecord(method, shown, None, elapsed, kind))
                # A ConnectTimeout/refused connection never reached Procore; anything
                # later (read timeout, dropped response) may have been committed.
                sent = not isinstance(exc, requests.ConnectTimeout | requests.exceptions.ProxyError) and not (
                    isinstance(exc, requests.ConnectionError) and "refused" in str(exc).lower()
                )
                if idempotent and attempt < max_attempts:
                    continue  # safe to send again at once (no wait: the job backs off, not the worker)
                raise TransientError(
                    f"{kind} on {method} {shown} after {attempt} attempt(s)", maybe_committed=sent and not idempotent
                ) from None
            elapsed = int((time.monotonic() - started) * 1000)
            self.rate.update(resp.headers)
            status = resp.status_code
            self._record(CallRecord(method, shown, status, elapsed))
            data = _json(resp)
            if status < 300:
                return Response(status, data, dict(resp.headers), dict(resp.links))
            message = redact_text(_error_message(data, resp.reason or f"HTTP {status}"))
            if status == 401:
                if refreshed:
                    raise AuthError(message, status=status)
                refreshed = True
                attempt -= 1  # the refresh is ours, not the server's fault
                self._refresh()
                continue
            if status == 429:
                raise RateLimited(message, status=status, retry_after=self._rate_wait(resp))
            if status >= 500:
                retry_after = _retry_after(resp)
                if idempotent and retry_after is None and attempt < max_attempts:
                    continue
                raise TransientError(message, status=status, retry_after=retry_after, maybe_committed=not idempotent)
            body = redact(data)
            if status == 409:
                # Direct costs and their lines "do not support concurrent requests": 409 Conflict
                # when another request is changing the same one. Trying again later can help.
                raise TransientError(message, status=status, body=body)
            if status == 404:
                raise NotFound(message, status=status, body=body)
            if status == 403:
                raise Forbidden(message, status=status, body=body)
            if status == 422:
                raise ValidationFailed(message, status=status, body=body)
            raise ProcoreError(message, permanent=True, status=status, body=body)

    @staticmethod
    def _rate_wait(resp: requests.Response) -> float:
        retry_after = _retry_after(resp)
        if retry_after is not None:
            return max(retry_after, 0.01)
        try:
            return max(float(resp.headers["X-Rate-Limit-Reset"]) - time.time(), 0.01)
        except (KeyError, ValueError):
            return 1.0

    def paginate(
        self, path: str, *, params: dict[str, Any] | None = None, per_page: int = 100, company_header: bool = True
    ) -> Iterator[Any]:
        """Yield every item of a list endpoint, following the `Link: rel=next` header."""
        query = dict(params or {})
        query.setdefault("per_page", per_page)
        query.setdefault("page", 1)
        resp = self.request("GET", path, params=query, company_header=company_header)
        while True:
            yield from resp.data or []
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return
            # Never send the bearer token to a host other than the API's.
            if urlsplit(nxt).netloc != urlsplit(self.credentials.api_url).netloc:
                raise ProcoreError(f"pagination link points to another host: {urlsplit(nxt).netloc}")
            resp = self.request("GET", "", url=nxt, company_header=company_header)


def _shown_path(method: str, url: str, params: dict[str, Any] | None) -> str:
    prepared = requests.Request(method, url, params=params).prepare().path_url
    return redact_url(prepared)


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None
