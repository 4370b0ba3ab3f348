"""The customer setup page: how to connect a tenant's QuickBooks, and a live checklist.

For the tenant's accountant (and support), in the admin: install the Web Connector,
download the .qwc, type the password, and watch the checklist turn green as the first
poll arrives, Procore is connected and projects and vendors are mapped. It reads both
integrations, so it lives at the composition level. Tenant scoping: tenants.access.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib import admin
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from audit.models import RecordKind, SyncRecord
from procore_sync.mappings import jobs_seen
from procore_sync.models import CostCodeMapping, JobProjectMapping
from qbwc.models import QbwcSession
from tenants import access
from tenants.models import ConnectionStatus, ProcoreConnection, Tenant

# Intuit's page for the Web Connector download and its user guide.
QBWC_DOWNLOAD_URL = (
    "https://developer.intuit.com/app/developer/qbdesktop/docs/get-started/get-started-with-quickbooks-web-connector"
)


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    done: bool
    detail: str


def _first_poll(tenant: Tenant) -> Check:
    seen = QbwcSession.objects.filter(tenant=tenant).aggregate(at=Max("last_seen_at"))["at"]
    detail = f"last contact {seen:%Y-%m-%d %H:%M} UTC" if seen else "waiting for the Web Connector's first update"
    return Check("first_poll", "First poll from the Web Connector seen", seen is not None, detail)


def _procore(tenant: Tenant) -> Check:
    conn = ProcoreConnection.objects.filter(tenant=tenant, environment=tenant.procore_environment).first()
    if conn is None:
        return Check("procore", "Procore connected", False, "no Procore connection yet (support sets it up)")
    done = conn.status == ConnectionStatus.CONNECTED
    detail = (conn.company_name or "connected") if done else conn.get_status_display()
    return Check("procore", "Procore connected", done, detail)


def _projects(tenant: Tenant) -> Check:
    jobs = {job for _, job in jobs_seen(tenant_ids=[tenant.pk])}
    bills = SyncRecord.objects.filter(tenant=tenant, kind=RecordKind.BILL).exists()
    mapped = set(JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", flat=True))
    missing = jobs - mapped
    if not bills and not mapped:
        return Check("projects", "Projects mapped", False, "waiting for the first bills from QuickBooks")
    if missing:
        return Check(
            "projects",
            "Projects mapped",
            False,
            f"{len(jobs) - len(missing)} of {len(jobs)} QuickBooks jobs mapped to a Procore project",
        )
    if jobs:
        detail = f"{len(jobs)} of {len(jobs)} QuickBooks jobs mapped to a Procore project"
    elif bills:
        detail = "no jobs on the bills: they all go to the default project"
    else:
        detail = f"{len(mapped)} QuickBooks jobs mapped ahead of the first bills"
    return Check("projects", "Projects mapped", True, detail)


def _vendors(tenant: Tenant) -> Check:
    with_bills = set(
        SyncRecord.objects.filter(tenant=tenant, kind=RecordKind.BILL, deleted_in_qb=False)
        .exclude(vendor_list_id="")
        .values_list("vendor_list_id", flat=True)
        .distinct()
    )
    if not with_bills:
        return Check("vendors", "Vendors mapped to cost codes", False, "waiting for the first bills from QuickBooks")
    mapped = set(CostCodeMapping.objects.filter(tenant=tenant).values_list("vendor_list_id", flat=True))
    done = with_bills <= mapped
    detail = f"{len(with_bills & mapped)} of {len(with_bills)} vendors with bills have a cost code"
    return Check("vendors", "Vendors mapped to cost codes", done, detail)


def setup_checklist(*, tenant: Tenant) -> list[Check]:
    return [_first_poll(tenant), _procore(tenant), _projects(tenant), _vendors(tenant)]


def _tenant_for(request: HttpRequest, tenant_id: int) -> Tenant:
    if not access.has_admin_access(request.user):
        raise Http404("No such tenant")
    return access.get_tenant_for_user_or_404(request.user, tenant_id)


def setup_view(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = _tenant_for(request, tenant_id)
    checks = setup_checklist(tenant=tenant)
    conn = ProcoreConnection.objects.filter(tenant=tenant, environment=tenant.procore_environment).first()
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": f"Set up {tenant.name}",
        "tenant": tenant,
        "checks": checks,
        "all_done": all(c.done for c in checks),
        "qwc_url": reverse("admin:tenants_tenant_qwc", args=[tenant.pk]),
        "status_url": reverse("admin:tenant_setup_status", args=[tenant.pk]),
        "qbwc_download_url": QBWC_DOWNLOAD_URL,
        "connection": conn,
        "can_connect": access.can_manage_credentials(request.user),
        "server_url": request.build_absolute_uri("/qbwc/"),
    }
    return TemplateResponse(request, "admin/setup.html", context)


def setup_status_view(request: HttpRequest, tenant_id: int) -> JsonResponse:
    """The checklist as JSON: the page polls it so each item turns green as it happens."""
    tenant = _tenant_for(request, tenant_id)
    checks = setup_checklist(tenant=tenant)
    return JsonResponse({"checks": [asdict(c) for c in checks], "all_done": all(c.done for c in checks)})
