from __future__ import annotations

from django.urls import path

from qbwc import views

app_name = "qbwc"
urlpatterns = [
    path("", views.endpoint, name="endpoint"),
    path("support/", views.support, name="support"),
]
