"""Print a tenant's .qwc file: `python manage.py qwc SLUG --url https://HOST/qbwc/`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qbwc.qwc import QwcError, QwcSpec, render_qwc, support_url_for
from tenants.cli import tenant_by_slug
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Print the .qwc file a tenant imports into the QuickBooks Web Connector."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--url", required=True, help="The public https URL of /qbwc/")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        try:
            body = render_qwc(qwc_spec_for(tenant, options["url"]))
        except QwcError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(body.decode("utf-8"), ending="")


def qwc_spec_for(tenant: Tenant, url: str) -> QwcSpec:
    return QwcSpec(
        app_name=f"ml-connector ({tenant.name})",
        app_url=url,
        support_url=support_url_for(url),
        username=tenant.qbwc_username,
        owner_id=tenant.qbwc_owner_id,
        file_id=tenant.qbwc_file_id,
        run_every_minutes=tenant.poll_interval_minutes,
    )
