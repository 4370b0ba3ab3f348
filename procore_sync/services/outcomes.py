"""What one push step ended in. Handlers return Done or raise Waiting; jobs.py turns both into state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Done:
    """The record reached its Procore state (synced, deleted or dropped)."""

    state: str
    code: str
    message: str
    procore_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Waiting(Exception):
    """The job cannot proceed until something else happens (mapping, vendor, reconnect)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message
