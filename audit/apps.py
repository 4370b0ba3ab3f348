from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    verbose_name = "Audit trail"
    name = "audit"
