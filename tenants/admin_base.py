"""TenantScopedAdmin: the only admin base for TenantOwned models.

Querysets, foreign-key choices, raw-id and autocomplete popups all go through
tenants.access, and an object outside the user's tenants answers 404 (not a
redirect that would confirm it exists).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import Http404, HttpRequest

from tenants import access
from tenants.models import Tenant, TenantOwned


class TenantScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # What accountants may do on this model; operators may do everything the
    # model admin allows. Subclasses narrow or widen these.
    accountant_permissions: frozenset[str] = frozenset({"view"})
    operator_permissions: frozenset[str] = frozenset({"view", "add", "change", "delete"})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return access.scope(super().get_queryset(request), request.user)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such record")
        return obj

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        related = db_field.related_model
        if related is Tenant:
            kwargs["queryset"] = access.tenants_for(request.user)
        elif isinstance(related, type) and issubclass(related, TenantOwned):
            kwargs["queryset"] = access.scope(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _allowed(self, request: HttpRequest, action: str, obj: Model | None = None) -> bool:
        user = request.user
        if not access.has_admin_access(user):
            return False
        if obj is not None and not access.can_see_tenant(user, obj.tenant_id):  # type: ignore[attr-defined]
            return False
        if access.is_operator(user):
            return action in self.operator_permissions
        return action in self.accountant_permissions

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, "view")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, "view", obj) or self._allowed(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, "delete", obj)


def tenant_owned_models() -> list[type[Model]]:
    from django.apps import apps

    return [model for model in apps.get_models() if issubclass(model, TenantOwned) and not model._meta.abstract]
