"""Connect to Procore: the OAuth2 authorization-code flow, started from the connection screen.

/admin/procore/connections/<id>/connect/ redirects to the environment's Procore login;
Procore sends the user back to /admin/procore/oauth/callback/ with a single-use code,
which we exchange for tokens and store encrypted. `state` is signed and bound to the
user's session, so a callback cannot be replayed or forged for another connection.

Reference: https://developers.procore.com/documentation/oauth-auth-grant-flow
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from tenants import access
from tenants.models import ProcoreConnection

STATE_SALT = "procore-oauth-state"
STATE_MAX_AGE = int(timedelta(minutes=10).total_seconds())  # Procore's codes live 10 minutes too
SESSION_KEY = "procore_oauth_nonce"


def login_url_for(environment: str) -> str:
    from procore_sync.tokens import environment_urls

    return str(environment_urls(environment)[1]).rstrip("/")


def _connection_for(request: HttpRequest, pk: int) -> ProcoreConnection:
    """The connection, if the user may see its tenant (404 otherwise) and manage credentials."""
    conn = access.scope(ProcoreConnection.objects.select_related("tenant"), request.user).filter(pk=pk).first()
    if conn is None:
        raise Http404("No such connection")
    if not access.can_manage_credentials(request.user):
        raise PermissionDenied
    return conn


def _change_url(conn: ProcoreConnection) -> str:
    return reverse("admin:tenants_procoreconnection_change", args=[conn.pk])


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("admin:procore_oauth_callback"))


def connect(request: HttpRequest, pk: int) -> HttpResponse:
    conn = _connection_for(request, pk)
    if not conn.client_id:
        messages.error(request, "Enter the app's client ID and secret first, then connect.")
        return HttpResponseRedirect(_change_url(conn))
    nonce = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = nonce
    state = signing.dumps({"c": conn.pk, "u": request.user.pk, "n": nonce}, salt=STATE_SALT)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": conn.client_id,
            "redirect_uri": _redirect_uri(request),
            "state": state,
        }
    )
    return HttpResponseRedirect(f"{login_url_for(conn.environment)}/oauth/authorize?{query}")


def callback(request: HttpRequest) -> HttpResponse:
    try:
        state = signing.loads(request.GET.get("state", ""), salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        raise PermissionDenied("The Procore sign-in link is invalid or expired; start again.") from None
    nonce = request.session.pop(SESSION_KEY, None)
    if state.get("u") != request.user.pk or not nonce or state.get("n") != nonce:
        raise PermissionDenied("This Procore sign-in was started by another session; start again.")
    conn = _connection_for(request, int(state["c"]))
    if request.GET.get("error"):
        detail = request.GET.get("error_description") or request.GET["error"]
        messages.error(request, f"Procore did not authorize the connection: {detail}")
        return HttpResponseRedirect(_change_url(conn))
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, "Procore sent no authorization code back; start again.")
        return HttpResponseRedirect(_change_url(conn))
    # Imported here: the Procore client stack loads only when someone connects.
    from procore_sync.errors import ProcoreError
    from procore_sync.tokens import connection_connect

    try:
        connection_connect(
            tenant=conn.tenant,
            environment=conn.environment,
            client_id=conn.client_id or "",
            client_secret=conn.client_secret or "",
            code=code,
            redirect_uri=_redirect_uri(request),
        )
    except ProcoreError as exc:
        messages.error(request, f"Procore refused the sign-in: {exc}")
        return HttpResponseRedirect(_change_url(conn))
    messages.success(request, "Connected to Procore. Use Test connection to check the company.")
    return HttpResponseRedirect(_change_url(conn))
