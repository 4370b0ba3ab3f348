"""Operational state of the deployment itself (not of any tenant)."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of one background process: a Celery worker or beat.

    /readyz reads these rows: the web server cannot see the other processes, but
    every process shares the database.
    """

    component = models.CharField(max_length=20)  # "worker" or "beat"
    hostname = models.CharField(max_length=255)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["component", "hostname"], name="heartbeat_one_per_process")]

    def __str__(self) -> str:
        return f"{self.component}@{self.hostname} {self.seen_at:%Y-%m-%d %H:%M:%S}"
