"""Make the QBWC harness fixtures (tests/harness_qbwc.py) available to these tests."""

from __future__ import annotations

from tests.harness_qbwc import qbwc, qbwc_settings, run_simulator

__all__ = ["qbwc", "qbwc_settings", "run_simulator"]
