"""The admin's URLs: Django's admin with the dashboard index, the integrations' admin pages and Procore OAuth.

connector/urls.py mounts them at /admin/. The integrations' pages (qbwc/admin_views.py,
procore_sync/admin_views.py) hang off tenant and connection paths; they are mounted here,
ahead of the admin's own patterns, because tenants/ imports nothing above it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import include, path

from connector.dashboard import dashboard_index
from connector.setup_page import setup_status_view, setup_view
from procore_sync import admin_views as procore_admin_views
from qbwc import admin_views as qbwc_admin_views


def admin_urls() -> tuple[list[Any], str, str]:
    """Django's admin URLs with the dashboard index and the Procore OAuth views in front.

    Called from connector/urls.py, which Django imports after every app's admin.py ran.
    """
    patterns, app_name, namespace = admin.site.urls
    extra = [
        # Ahead of the admin's own patterns, so "" resolves to the dashboard.
        path("", admin.site.admin_view(dashboard_index), name="index"),
        path("procore/", include("procore_sync.urls")),
        *qbwc_admin_views.admin_urlpatterns(),
        *procore_admin_views.admin_urlpatterns(),
        # The customer setup page (issue 12).
        path("setup/<int:tenant_id>/", admin.site.admin_view(setup_view), name="tenant_setup"),
        path("setup/<int:tenant_id>/status/", admin.site.admin_view(setup_status_view), name="tenant_setup_status"),
    ]
    return extra + list(patterns), app_name, namespace
