"""`procore_emulator --port 8765 [--seed FILE]`: a local Procore for demos and manual testing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from peers.procore_emulator.__main__ import arguments, serve


class Command(BaseCommand):
    help = "Run the Procore emulator (OAuth + REST) seeded with a construction company."

    def add_arguments(self, parser: CommandParser) -> None:
        arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        serve(options, out=self.stdout)
