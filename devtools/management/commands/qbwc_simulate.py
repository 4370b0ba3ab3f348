"""Play the QuickBooks Web Connector against a running endpoint with a fake company.

    python manage.py qbwc_simulate --url http://127.0.0.1:8000/qbwc/ --username U --password P \
        [--dataset FILE] [--runs N] [--pause SECONDS]

Between runs the company applies the dataset's next change set (edits, new bills,
deletions), as a bookkeeper would between two scheduled updates.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from peers.qbwc_simulator.client import WebConnector
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import SAMPLE_PATH, load


class Command(BaseCommand):
    help = "Run the Web Connector simulator against a QBWC endpoint over HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--dataset", default=str(SAMPLE_PATH))
        parser.add_argument("--runs", type=int, default=1)
        parser.add_argument("--pause", type=float, default=0.0, help="Seconds to wait between runs")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            dataset = load(options["dataset"])
        except (OSError, ValueError, TypeError) as exc:
            raise CommandError(f"cannot read dataset {options['dataset']}: {exc}") from None
        company = FakeCompany(dataset)
        client = WebConnector(options["url"], options["username"], options["password"], company, say=self.stdout.write)
        for run in range(1, options["runs"] + 1):
            if run > 1:
                if company.apply_next_changes():
                    self.stdout.write("(the bookkeeper edited, added and deleted records in QuickBooks)")
                time.sleep(options["pause"])
            self.stdout.write(self.style.MIGRATE_HEADING(f"Run {run}"))
            result = client.run()
            self.stdout.write(
                f"-> {result.outcome}: {len(result.requests)} requests sent"
                + (f"; {result.close_message}" if result.close_message else "")
                + (f"; error: {result.last_error}" if result.last_error and result.outcome != "done" else "")
            )
