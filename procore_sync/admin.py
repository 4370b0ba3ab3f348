"""Mapping screens for accountants (their own tenant) and the push queue for support staff.

Saving a mapping goes through procore_sync.services.mappings, which releases the bills that
waited on it. The cost codes and projects offered come from the cached Procore
catalog (procore_sync.services.catalog), searchable through the browser's own datalist.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from audit.models import PushJob
from procore_sync.errors import ProcoreError
from procore_sync.models import CachedCostCode, CachedProject, CostCodeMapping, ExternalId, JobProjectMapping
from procore_sync.services import mappings
from procore_sync.services.catalog import catalog_refresh
from tenants import access
from tenants.admin import TenantFilter
from tenants.admin_base import TenantScopedAdmin
from tenants.models import Tenant

EDITORS = frozenset({"view", "add", "change", "delete"})


def _catalog(tenant_ids: list[int] | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(cost codes, projects) as (value, label) pairs from the cached Procore catalog.

    Only rows of each tenant's current Procore environment: sandbox ids mean nothing in production.
    """
    tenants = Tenant.objects.all() if tenant_ids is None else Tenant.objects.filter(pk__in=tenant_ids)
    envs = dict(tenants.values_list("pk", "procore_environment"))
    codes: dict[str, str] = {}
    for tid, env, code, name in CachedCostCode.objects.filter(tenant_id__in=envs).values_list(
        "tenant_id", "environment", "code", "name"
    ):
        if envs[tid] == env:
            codes.setdefault(code, f"{code} {name}".strip())
    projects = [
        (str(pid), f"{name} ({pid})")
        for tid, env, pid, name in CachedProject.objects.filter(tenant_id__in=envs, active=True)
        .order_by("name")
        .values_list("tenant_id", "environment", "procore_id", "name")
        if envs[tid] == env
    ]
    return sorted(codes.items()), projects


class DatalistInput(forms.TextInput):
    """A text box with a searchable list of suggestions (HTML datalist; works offline, no JavaScript)."""

    def __init__(self, list_id: str, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({**(attrs or {}), "list": list_id, "autocomplete": "off"})
        self.list_id = list_id
        self.options: list[tuple[str, str]] = []

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        box = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">{}</option>', self.options)
        return format_html('{}<datalist id="{}">{}</datalist>', box, self.list_id, options)


class _MappingForm(forms.ModelForm):  # type: ignore[type-arg]
    """Runs the mapping service's own validator, so the admin refuses exactly what the service refuses."""

    def _tenant(self) -> Tenant | None:
        # On the change form the tenant is read-only and comes from the instance.
        tenant = self.cleaned_data.get("tenant") or getattr(self.instance, "tenant", None)
        return tenant if isinstance(tenant, Tenant) else None

    def _value(self, name: str) -> Any:
        # Key fields are read-only once saved: their value is the instance's.
        return self.cleaned_data.get(name) if name in self.fields else getattr(self.instance, name)

    def validate(self, tenant: Tenant) -> None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = self._tenant()
        if tenant is None or self.errors:
            return data
        try:
            self.validate(tenant)
        except ValidationError as exc:
            # The service keys its messages by field; a read-only field's message goes on top.
            for field, messages_ in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return data


class CostCodeMappingForm(_MappingForm):
    class Meta:
        model = CostCodeMapping
        fields = ["tenant", "vendor_list_id", "vendor_name", "project_id", "cost_code"]
        widgets = {
            "vendor_list_id": DatalistInput("qb-vendors"),
            "project_id": DatalistInput("procore-projects"),
            "cost_code": DatalistInput("procore-cost-codes"),
        }
        help_texts = {
            "vendor_list_id": "Type to search the vendors QuickBooks sent.",
            "cost_code": "Type to search the cost codes read from Procore.",
            "project_id": "0 = every project; type to search Procore projects.",
        }

    def validate(self, tenant: Tenant) -> None:
        mappings.costcode_mapping_validate(
            tenant=tenant,
            vendor_list_id=str(self._value("vendor_list_id") or ""),
            cost_code=str(self._value("cost_code") or ""),
            project_id=int(self._value("project_id") or 0),
        )


class JobProjectMappingForm(_MappingForm):
    class Meta:
        model = JobProjectMapping
        fields = ["tenant", "customer_full_name", "project_id"]
        widgets = {
            "customer_full_name": DatalistInput("qb-jobs"),
            "project_id": DatalistInput("procore-projects"),
        }
        help_texts = {
            "customer_full_name": 'As QuickBooks names it, e.g. "Smith:Kitchen remodel".',
            "project_id": "Type to search Procore projects.",
        }

    def validate(self, tenant: Tenant) -> None:
        mappings.job_mapping_validate(
            tenant=tenant,
            customer_full_name=str(self._value("customer_full_name") or ""),
            project_id=int(self._value("project_id") or 0),
        )


class _MappingAdmin(TenantScopedAdmin):
    accountant_permissions = EDITORS
    operator_permissions = EDITORS
    list_filter = [TenantFilter]
    list_select_related = ["tenant"]
    change_list_template = "admin/procore_sync/mapping_change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The mapping's key is fixed once saved; map again to change what it points to.
        return self.key_fields if obj is not None else []

    key_fields: list[str] = []

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        tenants = list(access.tenants_for(request.user)[:2])
        if "tenant" not in initial and len(tenants) == 1:
            initial["tenant"] = str(tenants[0].pk)
        return initial

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        codes, projects = _catalog(access.tenant_ids_for(request.user))
        for name, field in form.base_fields.items():
            widget = field.widget
            if isinstance(widget, DatalistInput):
                widget.options = self.datalist(request, name, codes, projects)
        return form

    def datalist(
        self, request: HttpRequest, name: str, codes: list[tuple[str, str]], projects: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        if name == "project_id":
            return projects
        if name == "cost_code":
            return codes
        return []

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "refresh-catalog/",
                self.admin_site.admin_view(self.refresh_catalog_view),
                name="{}_{}_refresh_catalog".format(*info),
            ),
            *super().get_urls(),
        ]

    def refresh_catalog_view(self, request: HttpRequest) -> HttpResponse:
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        tenant = access.get_tenant_for_user_or_404(request.user, request.POST.get("tenant", ""))
        if not access.can_edit_mappings(request.user, tenant.pk):
            return HttpResponseRedirect(changelist)
        try:
            result = catalog_refresh(tenant=tenant)
        except ProcoreError as exc:
            self.message_user(request, f"Could not read the Procore catalog for {tenant}: {exc}", messages.ERROR)
        else:
            counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in result.items())
            self.message_user(request, f"Procore catalog refreshed for {tenant}: {counts}.", messages.SUCCESS)
        return HttpResponseRedirect(changelist)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        tenants = list(access.tenants_for(request.user))
        context = {**(extra_context or {}), "catalog_tenants": tenants}
        return super().changelist_view(request, context)


@admin.register(CostCodeMapping)
class CostCodeMappingAdmin(_MappingAdmin):
    form = CostCodeMappingForm
    list_display = ["vendor_display", "project_display", "cost_code", "tenant", "updated_at"]
    search_fields = ["vendor_name", "vendor_list_id", "cost_code"]
    key_fields = ["tenant", "vendor_list_id", "project_id"]

    @admin.display(description="Vendor", ordering="vendor_name")
    def vendor_display(self, obj: CostCodeMapping) -> str:
        return obj.vendor_name or obj.vendor_list_id

    @admin.display(description="Project", ordering="project_id")
    def project_display(self, obj: CostCodeMapping) -> str:
        return "every project" if obj.project_id == 0 else str(obj.project_id)

    def datalist(
        self, request: HttpRequest, name: str, codes: list[tuple[str, str]], projects: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        if name == "vendor_list_id":
            return [
                (v.vendor_list_id, v.name)
                for _, v in mappings.vendors_known(tenant_ids=access.tenant_ids_for(request.user))
            ]
        if name == "project_id":
            return [("0", "every project"), *projects]
        return super().datalist(request, name, codes, projects)

    def save_model(self, request: HttpRequest, obj: CostCodeMapping, form: Any, change: bool) -> None:
        # The form ran the service's validator; the service validates again inside its transaction.
        result = mappings.costcode_map(
            tenant=obj.tenant,
            vendor_list_id=obj.vendor_list_id,
            vendor_name=obj.vendor_name,
            project_id=obj.project_id,
            cost_code=obj.cost_code,
            acting_user_id=request.user.pk,
        )
        obj.pk = result.mapping.pk
        if result.released:
            self.message_user(request, f"{result.released} waiting bill(s) released to Procore.", messages.INFO)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        unmapped = mappings.vendors_unmapped(tenant_ids=access.tenant_ids_for(request.user))
        names = {t.pk: t for t in access.tenants_for(request.user)}
        context = {
            **(extra_context or {}),
            "unmapped_vendors": [(names[tid], v) for tid, v in unmapped if tid in names],
        }
        return super().changelist_view(request, context)


@admin.register(JobProjectMapping)
class JobProjectMappingAdmin(_MappingAdmin):
    form = JobProjectMappingForm
    list_display = ["customer_full_name", "project_id", "tenant", "updated_at"]
    search_fields = ["customer_full_name"]
    key_fields = ["tenant", "customer_full_name"]

    def datalist(
        self, request: HttpRequest, name: str, codes: list[tuple[str, str]], projects: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        if name == "customer_full_name":
            return [(job, job) for _, job in mappings.jobs_seen(tenant_ids=access.tenant_ids_for(request.user))]
        return super().datalist(request, name, codes, projects)

    def save_model(self, request: HttpRequest, obj: JobProjectMapping, form: Any, change: bool) -> None:
        result = mappings.job_map(
            tenant=obj.tenant,
            customer_full_name=obj.customer_full_name,
            project_id=obj.project_id,
            acting_user_id=request.user.pk,
        )
        obj.pk = result.mapping.pk
        if result.released:
            self.message_user(request, f"{result.released} waiting bill(s) released to Procore.", messages.INFO)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        ids = access.tenant_ids_for(request.user)
        mapped = set(
            access.scope(JobProjectMapping.objects.all(), request.user).values_list("tenant_id", "customer_full_name")
        )
        names = {t.pk: t for t in access.tenants_for(request.user)}
        unmapped = [
            (names[tid], job)
            for tid, job in mappings.jobs_seen(tenant_ids=ids)
            if (tid, job) not in mapped and tid in names
        ]
        return super().changelist_view(request, {**(extra_context or {}), "unmapped_jobs": unmapped})


class _ReadOnlyForSupport(TenantScopedAdmin):
    accountant_permissions = frozenset()
    operator_permissions = frozenset({"view"})
    list_select_related = ["tenant"]


@admin.register(PushJob)
class PushJobAdmin(_ReadOnlyForSupport):
    list_display = ["id", "tenant", "record_link", "op", "state", "reason", "attempts", "not_before", "error_short"]
    list_filter = [TenantFilter, "state", "reason", "op"]
    list_select_related = ["tenant", "record"]
    search_fields = ["record__label", "record__qb_id", "last_error"]
    readonly_fields = [
        "tenant",
        "record",
        "op",
        "state",
        "reason",
        "attempts",
        "not_before",
        "in_flight_since",
        "last_error",
        "created_at",
        "updated_at",
    ]
    fields = list(readonly_fields)

    @admin.display(description="Record")
    def record_link(self, obj: PushJob) -> str:
        url = reverse("admin:audit_syncrecord_change", args=[obj.record_id])
        return format_html('<a href="{}">{}</a>', url, obj.record)

    @admin.display(description="Last error")
    def error_short(self, obj: PushJob) -> str:
        return obj.last_error[:120]


_ID_MAP_FIELDS = (
    "tenant",
    "environment",
    "qb_id",
    "procore_kind",
    "project_id",
    "procore_id",
    "payload_hash",
    "created_at",
    "updated_at",
)


@admin.register(ExternalId)
class ExternalIdAdmin(_ReadOnlyForSupport):
    list_display = ["qb_id", "procore_kind", "procore_id", "project_id", "environment", "tenant", "updated_at"]
    list_filter = [TenantFilter, "environment", "procore_kind"]
    search_fields = ["qb_id"]
    fields = _ID_MAP_FIELDS
    readonly_fields = _ID_MAP_FIELDS  # the id map is shown, never edited

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        # "=procore_id" would fail on a non-numeric term: search it only with digits.
        if request.GET.get("q", "").strip().isdigit():
            return ["qb_id", "=procore_id"]
        return ["qb_id"]
