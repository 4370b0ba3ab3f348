"""ProcoreClient: the only code in the service that talks HTTP to Procore.

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
                    isinstance(exc, requests.ConnectionError)
                    and "refused" in str(exc).lower()
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
                raise TransientError(
                    message, status=status, retry_after=retry_after, maybe_committed=not idempotent
                )
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

    # Reference: https://developers.procore.com/reference/rest/project-vendors (List project vendors)
    def project_vendors(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.0/projects/{project_id}/vendors"))

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
    # Models: docs/Body19.md (create), Body20.md (update), RequisitionSubcontractorInvoice*.md,
    # RestV11RequisitionsGet200ResponseInner.md (answer; `items` only with view=extended).

    # Reference: https://developers.procore.com/reference/rest/requisitions (List, filters[origin_id])
    def requisitions_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        params = {"project_id": project_id, "filters[origin_id]": origin_id}
        return list(self.paginate("/rest/v1.0/requisitions", params=params))

    # Reference: https://developers.procore.com/reference/rest/requisitions (List, v1.1)
    def requisitions(self, project_id: int) -> list[dict[str, Any]]:
        """Every invoice of the project with its items (`view=extended`): one paginated read."""
        params = {"project_id": project_id, "view": "extended"}
        return list(self.paginate("/rest/v1.1/requisitions", params=params))

    # Reference: https://developers.procore.com/reference/rest/requisitions (Create, v1.1)
    def requisition_create(self, body: dict[str, Any]) -> dict[str, Any]:
        """One call: header and items (`requisition.items[]` by `line_item_id`); answers with items."""
        return self.request(  # type: ignore[no-any-return]
            "POST", "/rest/v1.1/requisitions", params={"view": "extended"}, json=body
        ).data

    # Reference: https://developers.procore.com/reference/rest/requisitions (Show, v1.1)
    def requisition_show(self, project_id: int, requisition_id: int) -> dict[str, Any]:
        params = {"project_id": project_id, "view": "extended"}
        return self.request("GET", f"/rest/v1.1/requisitions/{requisition_id}", params=params).data  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/requisitions (Update, v1.1)
    def requisition_update(self, requisition_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """One call: header and items (`requisition.items[]` by requisition item `id`); answers with items."""
        return self.request(  # type: ignore[no-any-return]
            "PATCH", f"/rest/v1.1/requisitions/{requisition_id}", params={"view": "extended"}, json=body
        ).data

    # Reference: https://developers.procore.com/reference/rest/requisitions (Delete)
    def requisition_delete(self, project_id: int, requisition_id: int) -> None:
        self.request("DELETE", f"/rest/v1.0/requisitions/{requisition_id}", params={"project_id": project_id})

    # --- direct costs ------------------------------------------------------------
    # Models: docs/Body96.md + DirectCostItem3.md (sync), DirectCostLineItemSyncBody.md + LineItem.md
    # (line item sync), ArrayOfDirectCostItems.md / ArrayOfDirectCostLineItems.md (answers).

    # Reference: https://developers.procore.com/reference/rest/direct-costs (List, v1.1)
    def direct_costs_by_origin(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        path = f"/rest/v1.1/projects/{project_id}/direct_costs"
        return list(self.paginate(path, params={"filters[origin_id]": origin_id}))

    def direct_costs(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.paginate(f"/rest/v1.1/projects/{project_id}/direct_costs"))

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Sync Direct Cost Items)
    def direct_costs_sync(self, project_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """≤ 1 000 items matched by id, else origin_id. 200 even when items fail: `entities` + `errors`."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/sync"
        return self.request("PATCH", path, json={"updates": updates}).data or {}  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Sync Direct Cost Line Items)
    def direct_cost_lines_sync(self, project_id: int, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """As direct_costs_sync, for line items (`cost_code_id` + `line_item_type_id`, `amount`)."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/line_items/sync"
        return self.request("PATCH", path, json={"updates": updates}).data or {}  # type: ignore[no-any-return]

    # Reference: https://developers.procore.com/reference/rest/direct-costs (Delete, v1.1)
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
