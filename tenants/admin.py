"""Admin for tenants, memberships and Procore connections.

The pages that need an integration (the .qwc download, reconcile, test connection) live in
qbwc/admin_views.py and procore_sync/admin_views.py: tenants imports nothing above it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils.html import format_html

from tenants import access, services
from tenants.admin_base import TenantScopedAdmin
from tenants.models import Membership, ProcoreConnection, Tenant


class TenantFilter(admin.SimpleListFilter):
    """The tenant list filter, offering only tenants the user may see.

    Django's default related-field filter would list every tenant's name.
    """

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(t.pk), t.name) for t in access.tenants_for(request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not str(value).isdigit():
            return queryset.none()
        return queryset.filter(tenant_id=int(value))


class TenantForm(forms.ModelForm):  # type: ignore[type-arg]
    """Validates with the services' rules and saves through them: the admin accepts only what the CLI does."""

    new_qbwc_password = forms.CharField(
        label="New QBWC password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the current password. Stored only as a hash.",
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "active",
            "sync_paused",
            "qbwc_username",
            "poll_interval_minutes",
            "procore_environment",
            "procore_company_id",
            "procore_project_id",
            "bill_target",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:  # a field is missing or malformed; the rules below need every value
            return data
        password = data.get("new_qbwc_password") or ""
        try:
            services.tenant_validate(
                slug=data["slug"],
                name=data["name"],
                qbwc_username=data["qbwc_username"],
                procore_environment=data["procore_environment"],
                procore_company_id=data["procore_company_id"],
                procore_project_id=data["procore_project_id"],
                poll_interval_minutes=data["poll_interval_minutes"],
                tenant_id=self.instance.pk,
            )
            if self.instance.pk is None and not password:
                raise ValidationError("A new tenant needs a QBWC password.")
            if password:
                services.qbwc_password_validate(password)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return data

    def save(self, commit: bool = True) -> Tenant:
        """A new tenant through tenant_create; an edit saves the fields, a new password through its service."""
        data = self.cleaned_data
        if self.instance.pk is None:
            self.instance = services.tenant_create(
                slug=data["slug"],
                name=data["name"],
                qbwc_username=data["qbwc_username"],
                qbwc_password=data["new_qbwc_password"],
                procore_environment=data["procore_environment"],
                procore_company_id=data["procore_company_id"],
                procore_project_id=data["procore_project_id"],
                poll_interval_minutes=data["poll_interval_minutes"],
                active=data["active"],
                sync_paused=data["sync_paused"],
                bill_target=data["bill_target"],
            )
            self.save_m2m = self._save_m2m  # type: ignore[method-assign,attr-defined]  # the admin calls it next
            return self.instance
        tenant: Tenant = super().save(commit=commit)
        if data.get("new_qbwc_password"):
            services.tenant_qbwc_password_set(tenant=tenant, password=data["new_qbwc_password"])
        return tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = TenantForm
    list_display = ["name", "slug", "active", "sync_paused", "procore_environment", "qbwc_username"]
    list_filter = ["active", "procore_environment"]
    search_fields = ["name", "slug", "qbwc_username"]
    readonly_fields = ["qbwc_owner_id", "qbwc_file_id", "created_at"]
    actions = ["qbwc_password_generate"]

    @admin.action(description="Generate a new QBWC password (shown once; open sessions end)")
    def qbwc_password_generate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        if not access.is_operator(request.user):
            self.message_user(request, "Only support staff can reset QBWC passwords.", level=messages.ERROR)
            return
        for tenant in queryset:
            password = services.tenant_qbwc_password_reset(tenant=tenant)
            self.log_change(request, tenant, "Generated a new QBWC password")
            # Shown this once (the page after the action); only its keyed hash is stored.
            self.message_user(request, f"New QBWC password for {tenant.slug}: {password}", level=messages.WARNING)

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:  # a new tenant was created by tenant_create in TenantForm.save
            super().save_model(request, obj, form, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return access.tenants_for(request.user)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such tenant")
        return obj

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.has_admin_access(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.has_admin_access(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.has_admin_access(request.user) and access.is_operator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.has_admin_access(request.user) and access.is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser  # type: ignore[union-attr]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "tenant", "role"]
    list_filter = ["role", "tenant"]
    list_select_related = ["user", "tenant"]
    raw_id_fields = ["user"]

    def _operator(self, request: HttpRequest) -> bool:
        return access.has_admin_access(request.user) and access.is_operator(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._operator(request)


class ProcoreConnectionForm(forms.ModelForm):  # type: ignore[type-arg]
    """Secrets are write-only: the form never renders a stored value back."""

    client_id = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the stored value.",
    )
    client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the stored value.",
    )

    class Meta:
        model = ProcoreConnection
        fields = ["tenant", "environment", "client_id", "client_secret"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The model field initial values would otherwise be the decrypted secrets.
        self.initial.pop("client_id", None)
        self.initial.pop("client_secret", None)

    def save(self, commit: bool = True) -> ProcoreConnection:
        conn: ProcoreConnection = super().save(commit=False)
        for name in ("client_id", "client_secret"):
            value = self.cleaned_data.get(name)
            if value:
                setattr(conn, name, value)
            elif conn.pk:
                setattr(conn, name, getattr(ProcoreConnection.objects.get(pk=conn.pk), name))
        if commit:
            conn.save()
        return conn


@admin.register(ProcoreConnection)
class ProcoreConnectionAdmin(TenantScopedAdmin):
    form = ProcoreConnectionForm
    accountant_permissions = frozenset()  # credentials are for support staff only
    list_display = ["tenant", "environment", "status", "company_name", "token_expires_at", "updated_at"]
    list_filter = ["environment", "status"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "secrets_stored",
        "status",
        "status_detail",
        "company_name",
        "token_expires_at",
        "grant_type",
        "updated_at",
    ]

    @admin.display(description="Secrets stored")
    def secrets_stored(self, obj: ProcoreConnection) -> str:
        # Say whether each secret is set, never what it is.
        parts = [
            f"{label}: {'set' if getattr(obj, name) else 'not set'}"
            for name, label in (
                ("client_id", "client ID"),
                ("client_secret", "client secret"),
                ("access_token", "access token"),
                ("refresh_token", "refresh token"),
            )
        ]
        return format_html("{}", " · ".join(parts))
