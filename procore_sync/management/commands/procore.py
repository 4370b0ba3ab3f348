"""`procore connect SLUG --env … --client-id … --client-secret-file …` and `procore ping SLUG`.

The secret also comes from $PROCORE_CLIENT_SECRET or a prompt (tenants.cli.read_secret).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from procore_sync.errors import ProcoreError
from procore_sync.tokens import connection_connect, connection_ping
from tenants.cli import add_secret_arguments, read_secret, tenant_by_slug
from tenants.models import ProcoreEnvironment


class Command(BaseCommand):
    help = "Connect a tenant to Procore (client credentials) or check its connection."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect", help="store credentials (encrypted) and obtain a token")
        connect.add_argument("slug")
        connect.add_argument("--env", required=True, choices=ProcoreEnvironment.values)
        connect.add_argument("--client-id", required=True)
        add_secret_arguments(connect, "--client-secret", help_text="the Procore client secret")
        ping = sub.add_parser("ping", help="print the Procore company name, or the exact error")
        ping.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(options["slug"])
        try:
            if options["action"] == "connect":
                secret = read_secret(
                    options,
                    "--client-secret",
                    env="PROCORE_CLIENT_SECRET",
                    prompt="Procore client secret",
                    stderr=self.stderr,
                )
                if not secret:
                    raise CommandError(
                        "no client secret: give --client-secret-file PATH, $PROCORE_CLIENT_SECRET, or run interactively"
                    )
                conn = connection_connect(
                    tenant=tenant,
                    environment=options["env"],
                    client_id=options["client_id"],
                    client_secret=secret,
                )
                self.stdout.write(
                    f"connected {tenant.slug} to Procore {conn.environment}; "
                    f"token valid until {conn.token_expires_at:%Y-%m-%d %H:%M:%S %Z}"
                )
                if options["env"] == tenant.procore_environment:
                    self.stdout.write(f"company: {connection_ping(tenant=tenant)}")
            else:
                self.stdout.write(connection_ping(tenant=tenant))
        except ProcoreError as exc:
            raise CommandError(f"Procore: {exc}") from None
