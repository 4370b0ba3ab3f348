from __future__ import annotations

from django.apps import AppConfig


class ConnectorConfig(AppConfig):
    name = "connector"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Worker and beat publish heartbeats through Celery's signals (see connector.heartbeat).
        from connector import heartbeat

        heartbeat.connect_signals()
