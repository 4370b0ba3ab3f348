from __future__ import annotations

from django.apps import AppConfig


class QbwcConfig(AppConfig):
    verbose_name = "QuickBooks Web Connector"
    name = "qbwc"
