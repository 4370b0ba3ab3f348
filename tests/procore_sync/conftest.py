"""Procore fixtures live in tests/harness_procore.py (shared with the bench and other areas)."""

from __future__ import annotations

from tests.harness_procore import _celery_worker_session, acme_globex, celery_worker, procore_emulator

__all__ = ["_celery_worker_session", "acme_globex", "celery_worker", "procore_emulator"]
