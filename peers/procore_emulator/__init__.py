"""A local Procore for tests, the bench and the demo (see server.py and state.py)."""

from __future__ import annotations

from peers.procore_emulator.server import ProcoreEmulator
from peers.procore_emulator.state import EmulatorState, Fault

__all__ = ["EmulatorState", "Fault", "ProcoreEmulator"]
