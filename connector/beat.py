"""The beat scheduler: django-celery-beat's DatabaseScheduler plus a heartbeat from its loop.

Use it with `celery -A connector beat --scheduler connector.beat:HeartbeatScheduler`
(CELERY_BEAT_SCHEDULER names it too, so an embedded `worker -B` beat uses it).
"""

from __future__ import annotations

import time
from typing import Any

from django_celery_beat.schedulers import DatabaseScheduler

from connector.heartbeat import HEARTBEAT_SECONDS, heartbeat_record


class HeartbeatScheduler(DatabaseScheduler):  # type: ignore[misc]
    _last_heartbeat = float("-inf")

    def tick(self, *args: Any, **kwargs: Any) -> float:
        # tick() runs at least every max_interval (5 s for DatabaseScheduler): a live loop.
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            heartbeat_record(component="beat")
        return super().tick(*args, **kwargs)  # type: ignore[no-any-return]
