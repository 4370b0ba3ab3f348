"""QBWC pages of the admin that hang off a tenant: the .qwc download.

Mounted in the admin namespace by connector.dashboard.admin_urls (under the tenant's
own admin path, so the URL and its name did not change when the view left tenants/).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse

from qbwc.qwc import QwcError
from qbwc.qwc_tenant import tenant_qwc
from tenants import access


def qwc_download(request: HttpRequest, object_id: str) -> HttpResponse:
    """Download the tenant's .qwc, pointing the Web Connector at this server's /qbwc/."""
    tenant = access.get_tenant_for_user_or_404(request.user, object_id)
    try:
        body = tenant_qwc(tenant=tenant, url=request.build_absolute_uri("/qbwc/"))
    except QwcError as exc:
        messages.error(request, f"Cannot build the .qwc file: {exc}")
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    response = HttpResponse(body, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="ml-connector-{tenant.slug}.qwc"'
    return response


def admin_urlpatterns() -> list[URLPattern]:
    return [
        path("tenants/tenant/<path:object_id>/qwc/", admin.site.admin_view(qwc_download), name="tenants_tenant_qwc"),
    ]
