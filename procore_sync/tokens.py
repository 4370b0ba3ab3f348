"""Procore credentials: connect, refresh under a row lock, and build a client for a tenant.

Refresh tokens are single-use. A refresh therefore runs inside a transaction
holding the ProcoreConnection row (select_for_update), and the new access and
refresh tokens are saved in that same transaction: a second worker waits for
the lock, sees the new token and uses it instead of spending the old refresh
token again. When Procore refuses the grant (revoked, already used, or a
previous answer was lost in transit) the connection becomes needs_reconnect —
a permanent, visible state — and every job of that tenant waits for a person.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import JobReason, PushJob
from audit.outbox import outbox_rearm
from procore_sync.client import ProcoreClient
from procore_sync.errors import AuthError, ProcoreError, ReconnectNeeded
from procore_sync.models import ConnectionRate
from procore_sync.oauth import TokenGrant, oauth_token
from procore_sync.transport import ProcoreCredentials, RateState
from tenants.models import ConnectionStatus, ProcoreConnection, ProcoreEnvironment, Tenant

log = logging.getLogger(__name__)


def environment_urls(environment: str) -> tuple[str, str]:
    """(api_url, login_url) for an environment; sandbox and production never share anything."""
    if environment == ProcoreEnvironment.PRODUCTION:
        return settings.PROCORE_PRODUCTION_API_URL, settings.PROCORE_PRODUCTION_LOGIN_URL
    if environment == ProcoreEnvironment.SANDBOX:
        return settings.PROCORE_SANDBOX_API_URL, settings.PROCORE_SANDBOX_LOGIN_URL
    raise ValueError(f"unknown Procore environment {environment!r}")


def credentials_from(connection: ProcoreConnection, tenant: Tenant) -> ProcoreCredentials:
    api_url, login_url = environment_urls(connection.environment)
    return ProcoreCredentials(
        environment=connection.environment,
        api_url=api_url,
        login_url=login_url,
        company_id=tenant.procore_company_id,
        # Secret fields are nullable (None = never set): the client deals in strings.
        client_id=connection.client_id or "",
        client_secret=connection.client_secret or "",
        access_token=connection.access_token or "",
        refresh_token=connection.refresh_token or "",
        expires_at=connection.token_expires_at,
        grant_type=connection.grant_type or "client_credentials",
        connection_id=connection.pk,
    )


def _grant(creds: ProcoreCredentials) -> TokenGrant:
    form = {"client_id": creds.client_id, "client_secret": creds.client_secret}
    if creds.grant_type == "client_credentials":
        # No refresh token in this grant: near expiry, run the grant again.
        return oauth_token(login_url=creds.login_url, form={**form, "grant_type": "client_credentials"})
    if not creds.refresh_token:
        raise ReconnectNeeded("no refresh token stored: connect the tenant to Procore again")
    return oauth_token(
        login_url=creds.login_url,
        form={**form, "grant_type": "refresh_token", "refresh_token": creds.refresh_token},
    )


def token_refresh(*, connection_id: int, stale_access_token: str) -> ProcoreCredentials:
    """Return fresh credentials, refreshing at most once across all workers.

    Raises ReconnectNeeded (after committing status needs_reconnect) when
    Procore refuses the grant, TransientError when the token endpoint is down.
    """
    failure: ReconnectNeeded | None = None
    with transaction.atomic():
        conn = ProcoreConnection.objects.select_for_update().select_related("tenant").get(pk=connection_id)
        if conn.status == ConnectionStatus.NEEDS_RECONNECT:
            raise ReconnectNeeded(conn.status_detail or "Procore connection needs to be reconnected")
        creds = credentials_from(conn, conn.tenant)
        fresh_enough = not creds.needs_refresh(timezone.now(), settings.PROCORE_TOKEN_REFRESH_MARGIN_SECONDS)
        if creds.access_token and creds.access_token != stale_access_token and fresh_enough:
            return creds  # another worker refreshed while we waited for the lock
        try:
            grant = _grant(creds)
        except ReconnectNeeded as exc:
            conn.status = ConnectionStatus.NEEDS_RECONNECT
            conn.status_detail = f"Reconnect needed: {exc.message}"
            conn.access_token = None
            conn.save(update_fields=["status", "status_detail", "access_token", "updated_at"])
            failure = exc
        else:
            conn.access_token = grant.access_token
            if grant.refresh_token:
                conn.refresh_token = grant.refresh_token
            conn.token_expires_at = grant.expires_at
            conn.status = ConnectionStatus.CONNECTED
            conn.status_detail = ""
            conn.save(
                update_fields=[
                    "access_token", "refresh_token", "token_expires_at", "status", "status_detail", "updated_at"
                ]
            )  # fmt: skip
            return credentials_from(conn, conn.tenant)
    log.warning("Procore connection %s needs a reconnect: %s", connection_id, failure)
    raise failure


class DbTokenSource:
    """The TokenSource a ProcoreClient uses: refreshes through token_refresh."""

    def refresh(self, stale: ProcoreCredentials) -> ProcoreCredentials:
        if stale.connection_id is None:
            raise AuthError("credentials are not tied to a stored connection")
        return token_refresh(connection_id=stale.connection_id, stale_access_token=stale.access_token)


def connection_for(tenant: Tenant) -> ProcoreConnection:
    conn = ProcoreConnection.objects.filter(tenant=tenant, environment=tenant.procore_environment).first()
    if conn is None:
        raise ReconnectNeeded(f"{tenant.slug} is not connected to Procore {tenant.procore_environment}")
    if conn.status == ConnectionStatus.NEEDS_RECONNECT:
        raise ReconnectNeeded(conn.status_detail or "Procore connection needs to be reconnected")
    return conn


def client_for(tenant: Tenant, **kwargs: Any) -> ProcoreClient:
    """A ProcoreClient for the tenant's current environment (raises ReconnectNeeded if none).

    It starts from the rate-limit window this connection last saw (ConnectionRate), so a
    connection whose quota is used up is rescheduled before it sends anything.
    """
    conn = connection_for(tenant)
    saved = ConnectionRate.objects.filter(connection=conn).first()
    rate = RateState(saved.limit, saved.remaining, saved.reset_at) if saved else RateState()
    return ProcoreClient(credentials_from(conn, tenant), token_source=DbTokenSource(), rate=rate, **kwargs)


def rate_save(client: ProcoreClient) -> None:
    """Keep what the client's last response said about its connection's rate-limit window."""
    rate, connection_id = client.rate, client.credentials.connection_id
    if connection_id is None or rate.remaining is None:
        return
    ConnectionRate.objects.update_or_create(
        connection_id=connection_id,
        defaults={"limit": rate.limit, "remaining": rate.remaining, "reset_at": rate.reset_at},
    )


def connection_connect(
    *,
    tenant: Tenant,
    environment: str,
    client_id: str,
    client_secret: str,
    code: str = "",
    redirect_uri: str = "",
) -> ProcoreConnection:
    """Store credentials (encrypted) and obtain a first token; re-arm jobs that waited for it.

    With `code` it runs the authorization-code grant (refresh tokens follow),
    otherwise client credentials. Raises ProcoreError with Procore's message.
    """
    _api_url, login_url = environment_urls(environment)
    form = {"client_id": client_id, "client_secret": client_secret}
    if code:
        form |= {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    else:
        form |= {"grant_type": "client_credentials"}
    grant = oauth_token(login_url=login_url, form=form)
    with transaction.atomic():
        conn, _ = ProcoreConnection.objects.select_for_update().get_or_create(tenant=tenant, environment=environment)
        conn.client_id, conn.client_secret = client_id, client_secret
        conn.access_token, conn.refresh_token = grant.access_token, grant.refresh_token or None
        conn.token_expires_at = grant.expires_at
        conn.grant_type = "authorization_code" if code else "client_credentials"
        conn.status, conn.status_detail = ConnectionStatus.CONNECTED, ""
        conn.save()
        if environment == tenant.procore_environment:
            jobs_rearm(tenant_id=tenant.pk, reason=JobReason.NEEDS_RECONNECT)
    return conn


def jobs_rearm(*, tenant_id: int, reason: str, record_ids: list[int] | None = None) -> int:
    """Move waiting jobs with `reason` back to pending and trigger them after commit."""
    jobs = PushJob.objects.filter(tenant_id=tenant_id, reason=reason)
    if record_ids is not None:
        jobs = jobs.filter(record_id__in=record_ids)
    return len(outbox_rearm(jobs))


def connection_ping(*, tenant: Tenant, recorder: Any = None) -> str:
    """The Procore company name for the tenant's company id, or a ProcoreError saying why not."""
    client = client_for(tenant, recorder=recorder)
    companies = client.companies()
    for company in companies:
        if int(company.get("id", 0)) == tenant.procore_company_id:
            name = str(company.get("name", ""))
            ProcoreConnection.objects.filter(pk=client.credentials.connection_id or 0).update(company_name=name)
            return name
    seen = ", ".join(f"{c.get('id')} {c.get('name')}" for c in companies) or "none"
    raise ProcoreError(
        f"company {tenant.procore_company_id} is not visible to this app (visible: {seen})", permanent=True
    )
