"""Fixtures for the composition layer: the real Celery worker and the Procore emulator."""

from __future__ import annotations

from tests.harness_procore import _celery_worker_session, acme_globex, celery_worker, procore_emulator

__all__ = ["_celery_worker_session", "acme_globex", "celery_worker", "procore_emulator"]
