from __future__ import annotations

from django.urls import URLPattern

# The SOAP endpoint (POST /qbwc/, GET /qbwc/?wsdl) is added by the QBWC issue.
urlpatterns: list[URLPattern] = []
