"""A local Procore for tests, the bench and the demo (see server.py and state.py)."""

from __future__ import annotations

from procore_sync.emulator.server import ProcoreEmulator
from procore_sync.emulator.state import EmulatorState, Fault

__all__ = ["EmulatorState", "Fault", "ProcoreEmulator"]
