"""`costcodes map SLUG --vendor "name or ListID" --cost-code CODE [--project-id N]`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from procore_sync.services.mappings import costcode_map, vendor_resolve
from tenants.cli import tenant_by_slug


def project_id_arg(raw: str | None, *, allow_zero: bool) -> int:
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(f"--project-id must be a number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise CommandError(f"--project-id must be a positive Procore project id, got {raw!r}")
    return value


class Command(BaseCommand):
    help = "Map a QuickBooks vendor to a Procore cost code; bills waiting on it are released."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        map_ = sub.add_parser("map", help="Map a vendor to a cost code")
        map_.add_argument("slug")
        map_.add_argument("--vendor", required=True, help="QuickBooks vendor name or ListID")
        map_.add_argument("--cost-code", required=True)
        map_.add_argument("--project-id", help="only for this Procore project (default: every project)")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        project_id = project_id_arg(options["project_id"], allow_zero=True)
        try:
            list_id, name = vendor_resolve(tenant=tenant, text=options["vendor"])
            result = costcode_map(
                tenant=tenant,
                vendor_list_id=list_id,
                vendor_name=name,
                cost_code=options["cost_code"],
                project_id=project_id,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        where = f"project {project_id}" if project_id else "every project"
        self.stdout.write(
            f"{'mapped' if result.created else 'updated'} {name} ({list_id}) → {options['cost_code'].strip()} "
            f"for {where}; {result.released} waiting bill(s) released"
        )
