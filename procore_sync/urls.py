"""Procore OAuth views, mounted under /admin/procore/ by connector.admin_urls (admin login required)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path

from procore_sync import views_oauth

urlpatterns: list[URLPattern] = [
    path(
        "connections/<int:pk>/connect/",
        admin.site.admin_view(views_oauth.connect),
        name="procore_oauth_connect",
    ),
    path("oauth/callback/", admin.site.admin_view(views_oauth.callback), name="procore_oauth_callback"),
]
