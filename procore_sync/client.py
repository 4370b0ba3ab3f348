"""ProcoreClient: the only code in the service that talks HTTP to Procore.

It takes a credentials dataclass (never a model) and a TokenSource that knows
how to refresh them (procore_sync.tokens does that under a row lock); it never
touches the ORM. Every request has a timeout, sends the bearer token and the
`Procore-Company-Id` header, and is recorded (method, path, status, duration)
with secrets redacted.

Retry policy, in one place:
- 401: refresh the token once, then AuthError.
- 429: wait for `Retry-After` (or the window reset) *without* spending an
  attempt, up to PROCORE_RATE_WAIT_MAX_SECONDS, then RateLimited.
- 5xx, timeouts, connection errors: bounded exponential backoff with full
  jitter. A non-idempotent create is NOT resent after a timeout or a dropped
  response (it may have been committed): TransientError(maybe_committed=True)
  tells the caller to look the record up by origin_id first.
- other 4xx: permanent, with Procore's message.

Reference: https://developers.procore.com/documentation/rate-limiting
Reference: https://developers.procore.com/documentation/restful-api-usage
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from audit.metrics import procore_call_observed, token_request_observed
from audit.redact import redact, redact_text, redact_url
from procore_sync.errors import (
    AuthError,
    Forbidden,
    NotFound,
    ProcoreError,
    RateLimited,
    ReconnectNeeded,
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


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_at: datetime


class _RateState:
    """What the last response said about the current rate-limit window."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None  # epoch seconds

    def update(self, headers: requests.structures.CaseInsensitiveDict[str]) -> None:
        try:
            limit = int(headers["X-Rate-Limit-Limit"])
            remaining = int(headers["X-Rate-Limit-Remaining"])
            reset_at = float(headers["X-Rate-Limit-Reset"])
        except (KeyError, ValueError):
            return
        with self.lock:
            self.limit, self.remaining, self.reset_at = limit, remaining, reset_at

    def pause_before_next(self, now: float) -> float:
        """Seconds to wait so the window is not exhausted (pacing near the end of it)."""
        with self.lock:
            if self.remaining is None or self.reset_at is None or self.limit is None:
                return 0.0
            left = self.reset_at - now
            if left <= 0:
                return 0.0
            if self.remaining <= 0:
                return left
            # Spread the last tenth of the window's quota over the time left, so
            # several workers sharing the quota slow down instead of hitting 429.
            if self.remaining < max(1, self.limit // 10):
                return left / (self.remaining + 1)
            return 0.0


# One window per (API host, OAuth app): every worker thread in this process shares it.
_RATE_STATES: dict[tuple[str, str], _RateState] = {}
_RATE_LOCK = threading.Lock()


def _rate_state(api_url: str, client_id: str) -> _RateState:
    with _RATE_LOCK:
        return _RATE_STATES.setdefault((api_url, client_id), _RateState())


def _error_message(data: Any, fallback: str) -> str:
    """Procore's own words: `errors` (field → messages), `error`, or `message`."""
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, dict):
            parts = [
                f"{k} {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items()
            ]
            return "; ".join(parts) or fallback
        if isinstance(errors, list | str) and errors:
            return "; ".join(map(str, errors)) if isinstance(errors, list) else errors
        for key in ("error_description", "error", "message"):
            if data.get(key):
                return str(data[key])
    return fallback


def oauth_token(
    *,
    login_url: str,
    form: dict[str, str],
    timeout: float | None = None,
    session: requests.Session | None = None,
) -> TokenGrant:
    """POST {login}/oauth/token. Raises ReconnectNeeded for a refused grant.

    Reference: https://developers.procore.com/documentation/oauth-endpoints
    """
    http = session or requests.Session()
    try:
        resp = http.post(
            login_url + "/oauth/token",
            data=form,
            timeout=timeout or settings.PROCORE_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as exc:
        token_request_observed(grant=form.get("grant_type", ""), outcome="unreachable")
        # The grant may have been used even though we never saw the answer.
        raise TransientError(
            f"token endpoint unreachable: {type(exc).__name__}", maybe_committed=True
        ) from None
    token_request_observed(grant=form.get("grant_type", ""), outcome=str(resp.status_code))
    data = _json(resp)
    if resp.status_code >= 500:
        raise TransientError(_error_message(data, "token endpoint error"), status=resp.status_code)
    if resp.status_code in (400, 401, 403):
        # invalid_grant (used/revoked refresh token, expired code) or invalid_client.
        raise ReconnectNeeded(
            "Procore refused the credentials: " + _error_message(data, "invalid grant"),
            status=resp.status_code,
            body=redact(data),
        )
    if resp.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
        raise AuthError(f"unexpected token response {resp.status_code}", status=resp.status_code)
    created = float(data.get("created_at") or time.time())
    expires_at = datetime.fromtimestamp(created, tz=UTC) + timedelta(
        seconds=float(data.get("expires_in") or 5400)
    )
    return TokenGrant(
        access_token=str(data["access_token"]),
        refresh_token=str(data.get("refresh_token") or ""),
        expires_at=expires_at,
    )


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return {"error": resp.text[:500]}


class ProcoreClient:
    """One tenant's view of one Procore environment."""

    def __init__(
        self,
        credentials: ProcoreCredentials,
        *,
        token_source: TokenSource | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        recorder: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.token_source = token_source
        self.sleep = sleep
        self.session = session or requests.Session()
        self.recorder = recorder
        self.calls: list[CallRecord] = []
        self.rate = _rate_state(credentials.api_url, credentials.client_id)

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
        """Send one logical request, applying the retry policy in the module docstring."""
        if idempotent is None:
            idempotent = method.upper() != "POST"
        max_attempts = settings.PROCORE_MAX_ATTEMPTS
        rate_wait_budget = settings.PROCORE_RATE_WAIT_MAX_SECONDS
        refreshed = False
        attempt = 0
        # Proactive refresh (Procore: refresh before expiry rather than wait for a 401).
        if self.credentials.needs_refresh(timezone.now(), settings.PROCORE_TOKEN_REFRESH_MARGIN_SECONDS):
            self._refresh()
        while True:
            pause = self.rate.pause_before_next(time.time())
            if pause > 0:
                if pause > rate_wait_budget:
                    raise RateLimited("rate limit window exhausted", retry_after=pause)
                rate_wait_budget -= pause
                self.sleep(pause)
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
                    isinstance(exc, requests.ConnectionError)
                    and "refused" in str(exc).lower()
                )
                if (sent and not idempotent) or attempt >= max_attempts:
                    raise TransientError(
                        f"{kind} on {method} {shown} after {attempt} attempt(s)", maybe_committed=sent
                    ) from None
                self._backoff(attempt)
                continue
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
                wait = self._rate_wait(resp)
                if wait > rate_wait_budget:
                    raise RateLimited(message, status=status, retry_after=wait)
                rate_wait_budget -= wait
                attempt -= 1  # waiting out the window does not burn an attempt
                self.sleep(wait)
                continue
            if status >= 500:
                retry_after = _retry_after(resp)
                if (not idempotent and status != 503) or attempt >= max_attempts:
                    raise TransientError(
                        message, status=status, retry_after=retry_after, maybe_committed=not idempotent
                    )
                if retry_after is not None:
                    self.sleep(min(retry_after, settings.PROCORE_BACKOFF_MAX_SECONDS))
                else:
                    self._backoff(attempt)
                continue
            body = redact(data)
            if status == 404:
                raise NotFound(message, status=status, body=body)
            if status == 403:
                raise Forbidden(message, status=status, body=body)
            if status == 422:
                raise ValidationFailed(message, status=status, body=body)
            raise ProcoreError(message, permanent=True, status=status, body=body)

    def _backoff(self, attempt: int) -> None:
        # Full jitter: uniform(0, min(cap, base * 2**attempt)).
        cap = settings.PROCORE_BACKOFF_MAX_SECONDS
        self.sleep(random.uniform(0, min(cap, settings.PROCORE_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))))

    @staticmethod
    def _rate_wait(resp: requests.Response) -> float:
        retry_after = _retry_after(resp)
        if retry_after is not None:
            return max(retry_after, 0.01)
        try:
            return max(float(resp.headers["X-Rate-Limit-Reset"]) - time.time(), 0.01)
        except (KeyError, ValueError):
            return 1.0

    def paginate(self, path: str, *, params: dict[str, Any] | None = None, per_page: int = 100) -> Iterator[Any]:
        """Yield every item of a list endpoint, following the `Link: rel=next` header."""
        query = dict(params or {})
        query.setdefault("per_page", per_page)
        query.setdefault("page", 1)
        resp = self.request("GET", path, params=query)
        while True:
            yield from resp.data or []
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                return
            # Never send the bearer token to a host other than the API's.
            if urlsplit(nxt).netloc != urlsplit(self.credentials.api_url).netloc:
                raise ProcoreError(f"pagination link points to another host: {urlsplit(nxt).netloc}")
            resp = self.request("GET", "", url=nxt)

    # --- identity ----------------------------------------------------------------

    # Reference: https://developers.procore.com/reference/rest/me
    def me(self) -> dict[str, Any]:
        return self.request("GET", "/rest/v1.0/me", company_header=False).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/companies
    def companies(self) -> list[dict[str, Any]]:
        return list(self.paginate_no_company("/rest/v1.0/companies"))

    def paginate_no_company(self, path: str) -> Iterator[Any]:
        resp = self.request("GET", path, params={"per_page": 100}, company_header=False)
        yield from resp.data or []

    # --- vendors -----------------------------------------------------------------

    def _company(self) -> dict[str, Any]:
        return {"company_id": self.credentials.company_id}

    # Reference: https://developers.procore.com/reference/rest/company-vendors
    def vendors_by_origin(self, origin_id: str) -> list[dict[str, Any]]:
        params = {**self._company(), "filters[origin_id]": origin_id}
        return list(self.paginate("/rest/v1.0/vendors", params=params))

    def vendor_create(self, vendor: dict[str, Any]) -> dict[str, Any]:
        body = {**self._company(), "vendor": vendor}
        return self.request("POST", "/rest/v1.0/vendors", json=body).data  # type: ignore[no-any-return]

    def vendor_update(self, vendor_id: int, vendor: dict[str, Any]) -> dict[str, Any]:
        body = {**self._company(), "vendor": vendor}
        return self.request("PATCH", f"/rest/v1.0/vendors/{vendor_id}", json=body).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/company-vendors (Sync Vendors)
    def vendors_sync(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch create/update (≤ 1 000, matched by id then origin_id). Answers 200 even with errors."""
        body = {**self._company(), "updates": updates}
        return self.request("PATCH", "/rest/v1.0/vendors/sync", json=body).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/project-vendors
    def project_vendor_add(self, project_id: int, vendor_id: int) -> None:
        self.request(
            "POST", f"/rest/v1.0/projects/{project_id}/vendors/{vendor_id}/actions/add", idempotent=True
        )

    # --- catalog -----------------------------------------------------------------

    # Reference: https://developers.procore.com/reference/rest/projects
    def projects(self) -> list[dict[str, Any]]:
        return list(self.paginate("/rest/v1.0/projects", params=self._company()))

    # Reference: https://developers.procore.com/reference/rest/cost-codes
    def cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate("/rest/v1.0/cost_codes", params={"project_id": project_id}))

    # Reference: https://developers.procore.com/reference/rest/work-order-contracts
    def commitments(self, project_id: int) -> list[dict[str, Any]]:
        """Subcontracts and purchase orders of a project, each tagged with its `kind`."""
        found: list[dict[str, Any]] = []
        for kind in ("work_order_contracts", "purchase_order_contracts"):
            for item in self.paginate(f"/rest/v1.0/{kind}", params={"project_id": project_id}):
                found.append({**item, "kind": kind})
        return found

    def commitment_line_items(self, kind: str, commitment_id: int, project_id: int) -> list[dict[str, Any]]:
        return list(
            self.paginate(f"/rest/v1.0/{kind}/{commitment_id}/line_items", params={"project_id": project_id})
        )

    # --- requisitions (subcontractor invoices) -----------------------------------

    # Reference: https://developers.procore.com/reference/rest/requisitions
    def requisitions_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        params = {"project_id": project_id, "filters[origin_id]": origin_id}
        return list(self.paginate("/rest/v1.0/requisitions", params=params))

    def requisitions(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate("/rest/v1.0/requisitions", params={"project_id": project_id}))

    def requisition_create(self, project_id: int, commitment_id: int, requisition: dict[str, Any]) -> dict[str, Any]:
        body = {"project_id": project_id, "commitment_id": commitment_id, "requisition": requisition}
        return self.request(  # type: ignore[no-any-return]
            "POST", "/rest/v1.1/requisitions", params={"view": "extended"}, json=body
        ).data

    def requisition_show(self, project_id: int, requisition_id: int) -> dict[str, Any]:
        params = {"project_id": project_id, "view": "extended"}
        return self.request("GET", f"/rest/v1.1/requisitions/{requisition_id}", params=params).data  # type: ignore[no-any-return]

    def requisition_update(self, project_id: int, requisition_id: int, requisition: dict[str, Any]) -> dict[str, Any]:
        return self.request(  # type: ignore[no-any-return]
            "PATCH",
            f"/rest/v1.0/requisitions/{requisition_id}",
            params={"project_id": project_id},
            json={"requisition": requisition},
        ).data

    def requisition_items_update(self, project_id: int, requisition_id: int, items: list[dict[str, Any]]) -> Any:
        return self.request(
            "PATCH",
            f"/rest/v1.0/requisitions/{requisition_id}/bulk_item_update",
            params={"project_id": project_id},
            json={"items": items},
        ).data

    def requisition_delete(self, project_id: int, requisition_id: int) -> None:
        self.request("DELETE", f"/rest/v1.0/requisitions/{requisition_id}", params={"project_id": project_id})

    # --- direct costs ------------------------------------------------------------

    # Reference: https://developers.procore.com/reference/rest/direct-costs
    def direct_costs_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs"
        return list(self.paginate(path, params={"filters[origin_id]": origin_id}))

    def direct_costs(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.1/projects/{project_id}/direct_costs"))

    def direct_cost_show(self, project_id: int, direct_cost_id: int) -> dict[str, Any]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}"
        return self.request("GET", path).data  # type: ignore[no-any-return]

    def direct_cost_create(self, project_id: int, direct_cost: dict[str, Any]) -> dict[str, Any]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs"
        return self.request("POST", path, json={"direct_cost": direct_cost}).data  # type: ignore[no-any-return]

    def direct_cost_update(self, project_id: int, direct_cost_id: int, direct_cost: dict[str, Any]) -> dict[str, Any]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}"
        return self.request("PATCH", path, json={"direct_cost": direct_cost}).data  # type: ignore[no-any-return]

    def direct_cost_delete(self, project_id: int, direct_cost_id: int) -> None:
        self.request("DELETE", f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}")


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


def credentials_with_grant(creds: ProcoreCredentials, grant: TokenGrant) -> ProcoreCredentials:
    return replace(
        creds,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token or creds.refresh_token,
        expires_at=grant.expires_at,
    )
