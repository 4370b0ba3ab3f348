"""Print a tenant's .qwc file: `python manage.py qwc SLUG --url https://HOST/qbwc/`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qbwc.qwc import QwcError
from qbwc.qwc_tenant import tenant_qwc
from tenants.cli import tenant_by_slug


class Command(BaseCommand):
    help = "Print the .qwc file a tenant imports into the QuickBooks Web Connector."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--url", required=True, help="The public https URL of /qbwc/")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        try:
            body = tenant_qwc(tenant=tenant, url=options["url"])
        except QwcError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(body.decode("utf-8"), ending="")
