"""Alerts in the admin: the history list (read-only) and the mute/unmute buttons of the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from alerts.models import Alert, AlertKind, AlertMute, Notification
from alerts.services import alert_mute, alert_unmute
from tenants import access
from tenants.admin import TenantFilter
from tenants.admin_base import TenantScopedAdmin


class NotificationInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Notification
    fields = ["sent_at", "kind", "subject", "recipients"]
    readonly_fields = ["sent_at", "kind", "subject", "recipients"]
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.has_admin_access(request.user)  # the parent alert is already scoped

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(TenantScopedAdmin):
    accountant_permissions = frozenset({"view"})
    operator_permissions = frozenset({"view"})
    list_display = ["opened_at", "tenant", "kind", "is_open", "resolved_at", "last_notified_at", "summary"]
    list_filter = [TenantFilter, "kind", "resolved_at"]
    list_select_related = ["tenant"]
    fields = ["tenant", "kind", "summary", "detail", "opened_at", "last_detected_at", "last_notified_at", "resolved_at"]
    readonly_fields = [
        "tenant",
        "kind",
        "summary",
        "detail",
        "opened_at",
        "last_detected_at",
        "last_notified_at",
        "resolved_at",
    ]
    inlines = [NotificationInline]

    @admin.display(boolean=True, description="Open")
    def is_open(self, obj: Alert) -> bool:
        return obj.resolved_at is None

    def get_urls(self) -> list[URLPattern]:
        return [
            path("mute/", self.admin_site.admin_view(self.mute_view), name="alerts_alert_mute"),
            *super().get_urls(),
        ]

    def mute_view(self, request: HttpRequest) -> HttpResponse:
        """POST tenant, kind, action=mute|unmute: one service call, then back to where the button was."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tenant = access.get_tenant_for_user_or_404(request.user, request.POST.get("tenant", ""))
        kind, action = request.POST.get("kind", ""), request.POST.get("action", "")
        if kind not in AlertKind.values or action not in ("mute", "unmute"):
            messages.error(request, "Unknown alert kind or action.")
        elif action == "mute":
            alert_mute(tenant=tenant, kind=kind, user=request.user)
            messages.success(request, f"{tenant.name}: “{AlertKind(kind).label}” emails muted.")
        else:
            alert_unmute(tenant=tenant, kind=kind)
            messages.success(request, f"{tenant.name}: “{AlertKind(kind).label}” emails on again.")
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:index")
        return HttpResponseRedirect(back)


@admin.register(AlertMute)
class AlertMuteAdmin(TenantScopedAdmin):
    accountant_permissions = frozenset({"view", "delete"})
    list_display = ["tenant", "kind", "muted_by", "created_at"]
    list_filter = [TenantFilter, "kind"]
    list_select_related = ["tenant", "muted_by"]
    readonly_fields = ["muted_by", "created_at"]
