"""Procore pages of the admin that hang off a tenant or its connection: reconcile, test connection.

Mounted in the admin namespace by connector.dashboard.admin_urls (under the tenant's and
the connection's own admin paths, so URLs and names did not change when the views left
tenants/). Each view checks access through tenants.access and calls one service.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from procore_sync.errors import ProcoreError
from procore_sync.reconcile.gather import tenant_reconcile
from procore_sync.tokens import connection_ping
from tenants import access
from tenants.models import ProcoreConnection, Tenant


def reconcile_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """The same report as `manage.py reconcile SLUG`: QuickBooks vs Procore, to the cent."""
    tenant = access.get_tenant_for_user_or_404(request.user, object_id)
    report, error = None, ""
    names: dict[int, str] = {}
    try:
        report, names = tenant_reconcile(tenant=tenant)
    except ProcoreError as exc:
        error = str(exc)
    differences = [(d, names.get(d.project_id, str(d.project_id))) for d in (report.differences if report else [])]
    totals = [(t, names.get(t.project_id, str(t.project_id))) for t in (report.totals if report else [])]
    context = {
        **admin.site.each_context(request),
        "title": f"Reconciliation: {tenant.name}",
        "tenant": tenant,
        "opts": Tenant._meta,
        "original": tenant,
        "report": report,
        "differences": differences,
        "totals": totals,
        "error": error,
    }
    return TemplateResponse(request, "admin/tenants/tenant/reconcile.html", context)


def connection_test_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Call Procore with the stored credentials; show the company name or Procore's exact error."""
    if not object_id.isdigit():
        raise Http404("No such connection")
    conn = access.scope(ProcoreConnection.objects.select_related("tenant"), request.user).filter(pk=object_id).first()
    if conn is None:  # outside the user's tenants
        raise Http404("No such connection")
    back = HttpResponseRedirect(reverse("admin:tenants_procoreconnection_change", args=[conn.pk]))
    if request.method != "POST" or not access.can_manage_credentials(request.user):
        return back
    tenant = conn.tenant
    if conn.environment != tenant.procore_environment:
        messages.warning(
            request,
            f"{tenant} syncs with Procore {tenant.procore_environment}; switch the tenant to "
            f"{conn.environment} to test this connection.",
        )
        return back
    try:
        name = connection_ping(tenant=tenant)
    except ProcoreError as exc:
        messages.error(request, f"Procore answered: {exc}")
    else:
        messages.success(request, f"Connected to Procore company “{name}”.")
    return back


def admin_urlpatterns() -> list[URLPattern]:
    return [
        path(
            "tenants/tenant/<path:object_id>/reconcile/",
            admin.site.admin_view(reconcile_view),
            name="tenants_tenant_reconcile",
        ),
        path(
            "tenants/procoreconnection/<path:object_id>/test/",
            admin.site.admin_view(connection_test_view),
            name="tenants_procoreconnection_test",
        ),
    ]
