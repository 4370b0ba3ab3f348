from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from connector.admin_urls import admin_urls
from connector.metrics_view import metrics
from connector.views import healthz, readyz

admin.site.site_header = "ml-connector"
admin.site.site_title = "ml-connector"
admin.site.index_title = "QuickBooks Desktop → Procore"

urlpatterns = [
    path("admin/", admin_urls()),
    path("qbwc/", include("qbwc.urls")),
    path("healthz", healthz, name="healthz"),
    # issue 12b: readiness and metrics
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]
