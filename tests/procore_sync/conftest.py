"""Procore fixtures live in tests/harness_procore.py (shared with the bench and other areas)."""

from __future__ import annotations

from tests.harness_procore import acme_globex, celery_worker, procore_emulator

__all__ = ["acme_globex", "celery_worker", "procore_emulator"]
