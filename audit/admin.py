"""The audit trail in the admin: read-only records, their timeline, and Replay."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from audit import selectors, services
from audit.models import RecordState, SyncRecord
from tenants import access
from tenants.admin import TenantFilter
from tenants.admin_base import TenantScopedAdmin

_STATE_COLOURS = {
    RecordState.SYNCED: "#2e7d32",
    RecordState.FAILED: "#c62828",
    RecordState.RETRYING: "#ef6c00",
    RecordState.WAITING: "#6a1b9a",
}


def _calls(data: dict[str, Any]) -> list[str]:
    """The HTTP exchanges an event recorded, one line each: "POST /path → 201 (34 ms)"."""
    lines = []
    for call in data.get("calls") or []:
        if not isinstance(call, dict):
            continue
        status = call.get("status") or call.get("error") or "no answer"
        lines.append(f"{call.get('method', '?')} {call.get('path', '?')} → {status} ({call.get('ms', '?')} ms)")
    return lines


@admin.register(SyncRecord)
class SyncRecordAdmin(TenantScopedAdmin):
    # Logs are read-only for everyone; Replay is the only write, through audit.services.
    accountant_permissions = frozenset({"view"})
    operator_permissions = frozenset({"view"})

    list_display = [
        "label_display",
        "kind",
        "tenant",
        "state_display",
        "amount",
        "procore_id",
        "procore_environment",
        "updated_at",
    ]
    list_filter = [TenantFilter, "kind", "state", "procore_environment", "updated_at"]
    search_fields = ["label", "qb_id", "vendor_list_id"]
    list_select_related = ["tenant"]
    list_per_page = 50
    actions = ["replay_selected"]
    fieldsets = [
        (None, {"fields": ["tenant", "kind", "label", "qb_id", "vendor_list_id", "amount"]}),
        ("State", {"fields": ["state", "state_reason", "procore_environment", "procore_id"]}),
        ("QuickBooks", {"fields": ["edit_sequence", "qb_time_modified", "deleted_in_qb", "created_at", "updated_at"]}),
        ("Payload (as QuickBooks sent it)", {"classes": ["collapse"], "fields": ["payload_pretty"]}),
    ]
    readonly_fields = [
        "tenant",
        "kind",
        "label",
        "qb_id",
        "vendor_list_id",
        "amount",
        "state",
        "state_reason",
        "procore_environment",
        "procore_id",
        "edit_sequence",
        "qb_time_modified",
        "deleted_in_qb",
        "created_at",
        "updated_at",
        "payload_pretty",
    ]

    @admin.display(description="Name / ref", ordering="label")
    def label_display(self, obj: SyncRecord) -> str:
        return obj.label or obj.qb_id

    @admin.display(description="State", ordering="state")
    def state_display(self, obj: SyncRecord) -> str:
        colour = _STATE_COLOURS.get(RecordState(obj.state), "#555")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_state_display())

    @admin.display(description="Payload")
    def payload_pretty(self, obj: SyncRecord) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return access.has_admin_access(request.user)

    @admin.action(description="Replay selected records", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[SyncRecord]) -> None:
        allowed = [r for r in queryset if access.can_replay(request.user, r.tenant_id)]
        count = services.records_replay(records=allowed, acting_user_id=request.user.pk)
        self.message_user(request, f"Replay queued for {count} record(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/replay/", wrap(self.replay_view), name="audit_syncrecord_replay"),
            path("replay-failed/", wrap(self.replay_failed_view), name="audit_syncrecord_replay_failed"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        record = self.get_object(request, object_id)
        timeline = [
            (e, _calls(e.data), json.dumps(e.data, indent=2, sort_keys=True) if e.data else "")
            for e in selectors.record_timeline(record=record)
        ]
        context = {
            **(extra_context or {}),
            "timeline": timeline,
            "push_jobs": list(record.push_jobs.order_by("-created_at")[:20]),
            "can_replay": access.can_replay(request.user, record.tenant_id),
        }
        return super().change_view(request, object_id, form_url, context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        counts = selectors.failure_counts_for(request.user)
        tenants = [(t, counts[t.pk]) for t in access.tenants_for(request.user) if t.pk in counts]
        context = {**(extra_context or {}), "failed_by_tenant": tenants}
        return super().changelist_view(request, context)

    @staticmethod
    def _back(default: str, request: HttpRequest) -> str:
        target = request.POST.get("next", "")
        # Only same-site admin paths: never an open redirect.
        return target if target.startswith("/admin/") and "//" not in target else default

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        record = self.get_object(request, object_id)  # 404 outside the user's tenants
        if request.method != "POST":
            return redirect(reverse("admin:audit_syncrecord_change", args=[record.pk]))
        if not access.can_replay(request.user, record.tenant_id):
            raise PermissionDenied
        services.records_replay(records=[record], acting_user_id=request.user.pk)
        self.message_user(request, f"Replay queued for {record}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:audit_syncrecord_change", args=[record.pk]))

    def replay_failed_view(self, request: HttpRequest) -> HttpResponse:
        changelist = reverse("admin:audit_syncrecord_changelist")
        if request.method != "POST":
            return redirect(changelist)
        tenant = access.get_tenant_for_user_or_404(request.user, request.POST.get("tenant", ""))
        if not access.can_replay(request.user, tenant.pk):
            raise PermissionDenied
        count = services.records_replay_failed(tenant=tenant, acting_user_id=request.user.pk)
        self.message_user(request, f"Replay queued for {count} failed record(s) of {tenant}.", messages.SUCCESS)
        return HttpResponseRedirect(self._back(changelist, request))
