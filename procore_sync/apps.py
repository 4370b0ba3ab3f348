from __future__ import annotations

from django.apps import AppConfig


class ProcoreSyncConfig(AppConfig):
    verbose_name = "Procore sync"
    name = "procore_sync"
