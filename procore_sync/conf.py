"""Procore tuning knobs. Their defaults and documentation live in connector/settings.py.

Read at call time (not import time) so a settings override in a test or the bench
applies: they shorten waits here, never by mocking HTTP.
"""

from __future__ import annotations

from django.conf import settings


def conf(name: str) -> float:
    return float(getattr(settings, name))


def conf_int(name: str) -> int:
    return int(conf(name))
