"""`python manage.py reconcile SLUG`: QuickBooks vs Procore, per vendor and project, to the cent.

Exit code 0 when everything matches, 1 when there are differences, 2 when Procore cannot be read.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from procore_sync.errors import ProcoreError
from procore_sync.reconcile.compare import render
from procore_sync.reconcile.gather import tenant_reconcile
from tenants.cli import tenant_by_slug


class Command(BaseCommand):
    help = "Compare a tenant's open QuickBooks bills with what Procore holds and print the differences."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        try:
            report, names = tenant_reconcile(tenant=tenant)
        except ProcoreError as exc:
            raise CommandError(f"cannot read Procore: {exc}", returncode=2) from None
        self.stdout.write(render(report, project_names=names))
        if not report.ok:
            sys.exit(1)
