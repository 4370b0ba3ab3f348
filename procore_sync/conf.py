"""Procore tuning knobs with defaults. Tests and the bench shorten waits here, not by mocking HTTP.

Read at call time (not import time) so a settings override in a test applies.
"""

from __future__ import annotations

from django.conf import settings

_DEFAULTS: dict[str, float] = {
    "PROCORE_TIMEOUT_SECONDS": 30,
    "PROCORE_MAX_ATTEMPTS": 8,
    # Client-side backoff for 5xx/timeouts: base * 2**n with full jitter, capped.
    "PROCORE_BACKOFF_BASE_SECONDS": 0.5,
    "PROCORE_BACKOFF_MAX_SECONDS": 30,
    # The longest a single call may sleep waiting out 429s before the job is re-queued.
    "PROCORE_RATE_WAIT_MAX_SECONDS": 900,
    # Refresh tokens this long before they expire (Procore: 90-minute tokens).
    "PROCORE_TOKEN_REFRESH_MARGIN_SECONDS": 600,
    # Outbox: retry delay base for transient job failures, and the job-level cap.
    "PROCORE_JOB_RETRY_BASE_SECONDS": 30,
    "PROCORE_JOB_MAX_ATTEMPTS": 10,
    # A job in flight longer than this is presumed dead (worker killed) and re-queued.
    "PROCORE_IN_FLIGHT_TIMEOUT_SECONDS": 900,
    # Vendors per PATCH /vendors/sync (Procore allows up to 1 000).
    "PROCORE_VENDOR_BATCH_SIZE": 1000,
    # Cached commitments older than this are re-read when a bill finds none for its vendor.
    "PROCORE_CATALOG_TTL_SECONDS": 300,
}


def conf(name: str) -> float:
    return float(getattr(settings, name, _DEFAULTS[name]))


def conf_int(name: str) -> int:
    return int(conf(name))
