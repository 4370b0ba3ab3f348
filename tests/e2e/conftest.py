"""End-to-end fixtures: the Procore emulator and a real Celery worker (tests/harness_procore.py)."""

from __future__ import annotations

from tests.harness_procore import _celery_worker_session, acme_globex, celery_worker, procore_emulator

__all__ = ["_celery_worker_session", "acme_globex", "celery_worker", "procore_emulator"]
