"""`procore_emulator --port 8765 [--seed FILE]`: a local Procore for demos and manual testing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from procore_sync.emulator import EmulatorState, ProcoreEmulator
from procore_sync.emulator.state import DEFAULT_SEED


class Command(BaseCommand):
    help = "Run the Procore emulator (OAuth + REST) seeded with a construction company."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=Path, default=DEFAULT_SEED)
        parser.add_argument("--token-ttl", type=int, default=5400, help="access-token lifetime (s)")
        parser.add_argument(
            "--rate-limit", default="3600/3600", help="LIMIT/SECONDS of the hourly window (e.g. 3600/3600)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        state = EmulatorState(token_ttl=options["token_ttl"])
        limit, seconds = options["rate_limit"].split("/")
        state.set_rate_limits([(int(limit), float(seconds)), (1000, 10.0)])
        ids = state.load_seed_file(options["seed"])
        emulator = ProcoreEmulator(state, host=options["host"], port=options["port"]).start()
        company = next(iter(state.companies.values()))
        self.stdout.write(f"Procore emulator on {emulator.url} — company {company['id']} {company['name']}")
        for key, value in ids.items():
            if key.startswith("project:"):
                self.stdout.write(f"  project {value}: {key.removeprefix('project:')}")
        for client_id in state.clients:
            self.stdout.write(f"  OAuth client: {client_id}")
        self.stdout.write("Point PROCORE_SANDBOX_API_URL and PROCORE_SANDBOX_LOGIN_URL here. Ctrl-C stops it.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            emulator.stop()
