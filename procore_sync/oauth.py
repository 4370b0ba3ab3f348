"""Procore's OAuth token endpoint (login host): grants, and the credentials they produce.

Reference: https://developers.procore.com/documentation/oauth-endpoints
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings

from audit.metrics import token_request_observed
from audit.redact import redact
from procore_sync.errors import AuthError, ReconnectNeeded, TransientError
from procore_sync.transport import ProcoreCredentials, _error_message, _json


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_at: datetime


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
        raise TransientError(f"token endpoint unreachable: {type(exc).__name__}", maybe_committed=True) from None
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
    expires_at = datetime.fromtimestamp(created, tz=UTC) + timedelta(seconds=float(data.get("expires_in") or 5400))
    return TokenGrant(
        access_token=str(data["access_token"]),
        refresh_token=str(data.get("refresh_token") or ""),
        expires_at=expires_at,
    )


def credentials_with_grant(creds: ProcoreCredentials, grant: TokenGrant) -> ProcoreCredentials:
    return replace(
        creds,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token or creds.refresh_token,
        expires_at=grant.expires_at,
    )
