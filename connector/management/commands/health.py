"""`manage.py health [CHECK ...]`: the readiness checks of /readyz, for container health checks.

Prints the JSON /readyz would answer and exits 1 when a check fails, e.g.
`manage.py health worker` in the worker container, `manage.py health beat` in beat's.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connector.health import CHECKS, readiness


class Command(BaseCommand):
    help = "Run readiness checks (default: all); exit 1 when one fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checks", nargs="*", help=f"checks to run (default: all of {', '.join(CHECKS)})")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ok, checks = readiness(tuple(options["checks"]) or CHECKS)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"ready": ok, "checks": checks}))
        if not ok:
            raise CommandError("not ready: " + ", ".join(n for n, c in checks.items() if not c["ok"]), returncode=1)
