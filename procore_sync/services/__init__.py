"""Writes to Procore: the outbox runner, vendors, bills, catalog and the periodic safety nets."""

from __future__ import annotations

from procore_sync.services.catalog import catalog_refresh
from procore_sync.services.outbox_runner import push_job_run
from procore_sync.services.sweep import in_flight_reap, outbox_sweep

__all__ = ["catalog_refresh", "in_flight_reap", "outbox_sweep", "push_job_run"]
