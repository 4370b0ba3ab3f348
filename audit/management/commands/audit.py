"""`audit replay --record ID` and `audit replay --tenant SLUG --failed`, for scripts and support."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import SyncRecord
from audit.services import records_replay, records_replay_failed
from tenants.cli import tenant_by_slug


class Command(BaseCommand):
    help = "Replay failed syncs: one record, or every failed record of a tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        replay = sub.add_parser("replay", help="Queue a new attempt (never a second Procore record)")
        which = replay.add_mutually_exclusive_group(required=True)
        which.add_argument("--record", help="SyncRecord id")
        which.add_argument("--tenant", help="tenant slug (with --failed)")
        replay.add_argument("--failed", action="store_true", help="every failed record of --tenant")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["record"] is not None:
            if options["failed"]:
                raise CommandError("--failed goes with --tenant, not --record")
            try:
                record = SyncRecord.objects.get(pk=int(options["record"]))
            except (ValueError, SyncRecord.DoesNotExist):
                raise CommandError(f"no sync record with id {options['record']!r}") from None
            records_replay(records=[record], acting_user_id=None)
            self.stdout.write(f"replay queued for record {record.pk} ({record}, {record.tenant.slug})")
            return
        if not options["failed"]:
            raise CommandError("--tenant needs --failed (replay every failed record of the tenant)")
        tenant = tenant_by_slug(options["tenant"])
        count = records_replay_failed(tenant=tenant, acting_user_id=None)
        self.stdout.write(f"replay queued for {count} failed record(s) of {tenant.slug}")
