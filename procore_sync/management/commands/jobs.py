"""`jobs map SLUG --job "Customer:Job" --project-id N`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from procore_sync.management.commands.costcodes import project_id_arg, tenant_by_slug
from procore_sync.services.mappings import job_map


class Command(BaseCommand):
    help = "Map a QuickBooks Customer:Job to a Procore project; bills waiting on it are released."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        map_ = sub.add_parser("map", help="Map a job to a project")
        map_.add_argument("slug")
        map_.add_argument("--job", required=True, help='QuickBooks "Customer:Job" full name')
        map_.add_argument("--project-id", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        project_id = project_id_arg(options["project_id"], allow_zero=False)
        try:
            result = job_map(tenant=tenant, customer_full_name=options["job"], project_id=project_id)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            f"{'mapped' if result.created else 'updated'} {options['job'].strip()} → project {project_id}; "
            f"{result.released} waiting bill(s) released"
        )
