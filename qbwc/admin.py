"""QBWC sessions, read-only: when QuickBooks last called, for how long, what it sent, what went wrong."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from qbwc import qb_errors
from qbwc.models import QbwcSession, RawResponse
from qbwc.tickets import sessions_end_by_support
from tenants import access
from tenants.admin import TenantFilter
from tenants.admin_base import TenantScopedAdmin


class RawResponseInline(admin.TabularInline):  # type: ignore[type-arg]
    """Each qbXML response of the session (bodies stay out of the page: they can be megabytes)."""

    model = RawResponse
    fields = ["request_seq", "step", "status_code", "status_message", "records", "received_at"]
    readonly_fields = ["request_seq", "step", "status_code", "status_message", "records", "received_at"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The parent session is already scoped to the user's tenants (TenantScopedAdmin).
        return access.has_admin_access(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The session page: (section title, fields), all read-only.
_SESSION_SECTIONS: list[tuple[str | None, tuple[str, ...]]] = [
    (None, ("tenant", "state", "step", "progress", "started_at", "last_seen_at", "finished_at", "duration")),
    ("Received", ("vendors_received", "bills_received", "deletions_received", "records_changed", "warnings")),
    ("Errors", ("error_plain", "last_error", "hresult", "step_errors")),
    (
        "QuickBooks",
        (
            "company_name",
            "company_file",
            "qb_product",
            "qbxml_versions",
            "qbxml_version",
            "ticket_hint",
            "client_address",
        ),
    ),
]


@admin.register(QbwcSession)
class QbwcSessionAdmin(TenantScopedAdmin):
    accountant_permissions = frozenset({"view"})
    operator_permissions = frozenset({"view"})
    list_display = [
        "started_at",
        "tenant",
        "state",
        "last_seen_at",
        "duration",
        "received",
        "error_short",
    ]
    list_filter = [TenantFilter, "state", "started_at"]
    list_select_related = ["tenant"]
    search_fields = ["ticket_hint", "last_error", "company_file"]
    date_hierarchy = "started_at"
    inlines = [RawResponseInline]
    fieldsets = [(title, {"fields": names}) for title, names in _SESSION_SECTIONS]

    actions = ["end_sessions"]
    # Every field shown is read-only: the sections, flattened (one list to keep).
    readonly_fields = [name for _, names in _SESSION_SECTIONS for name in names]

    @admin.action(description="End the selected sessions now (their tickets stop working)")
    def end_sessions(self, request: HttpRequest, queryset: QuerySet[QbwcSession]) -> None:
        if not access.is_operator(request.user):
            self.message_user(request, "Only support staff can end sessions.", level=messages.ERROR)
            return
        ended = sessions_end_by_support(sessions=queryset, user=request.user)
        for session in ended:  # the admin's own audit trail (LogEntry), one row per session
            self.log_change(request, session, f"Ended the QBWC session {session.ticket_hint}… (support)")
        self.message_user(request, f"Ended {len(ended)} session(s).")

    @admin.display(description="Duration")
    def duration(self, obj: QbwcSession) -> str:
        end = obj.finished_at or obj.last_seen_at or timezone.now()
        seconds = max(int((end - obj.started_at).total_seconds()), 0)
        return f"{seconds // 60}m {seconds % 60:02d}s"

    @admin.display(description="Received")
    def received(self, obj: QbwcSession) -> str:
        return (
            f"{obj.vendors_received} vendors, {obj.bills_received} bills, "
            f"{obj.deletions_received} deletions ({obj.records_changed} changed)"
        )

    @admin.display(description="Error")
    def error_short(self, obj: QbwcSession) -> str:
        if not obj.last_error:
            return "—"
        plain = qb_errors.explain(hresult=obj.hresult, message=obj.last_error)
        if plain is None:
            return format_html('<span style="color:#c62828">{}</span>', obj.last_error[:120])
        return format_html(
            '<span class="qb-error" style="color:#c62828">{} {}</span><br><small>{} · {}</small>',
            plain.cause,
            plain.fix,
            plain.code,
            obj.last_error[:120],
        )

    @admin.display(description="What to do")
    def error_plain(self, obj: QbwcSession) -> str:
        return qb_errors.for_bookkeeper(hresult=obj.hresult, message=obj.last_error) or "—"
