"""Operator CLI for onboarding: `tenants create|list|qbwc-password|add-user`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import credentials, services
from tenants.cli import add_secret_arguments, read_secret, tenant_by_slug
from tenants.models import Tenant


def positive_id(label: str, raw: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise CommandError(f"{label} must be a number, got {raw!r}") from None
    if value <= 0:
        raise CommandError(f"{label} must be a positive number, got {raw!r}")
    return value


class Command(BaseCommand):
    help = "Create and list tenants, and give people access to them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        create = sub.add_parser("create", help="Create a tenant")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--qbwc-username", required=True)
        add_secret_arguments(create, "--qbwc-password", help_text="the QBWC password (default: generated)")
        # Validated by the service so a bad value is a one-line error, not argparse usage.
        create.add_argument("--procore-env", required=True)
        create.add_argument("--procore-company-id", required=True)
        create.add_argument("--procore-project-id", required=True)
        create.add_argument("--poll-minutes", default="15")

        sub.add_parser("list", help="List tenants")

        reset = sub.add_parser(
            "qbwc-password", help="Give a tenant a new QBWC password (generated unless one is given); ends its sessions"
        )
        reset.add_argument("slug")
        add_secret_arguments(reset, "--qbwc-password", help_text="the new QBWC password (default: generated)")

        add_user = sub.add_parser("add-user", help="Create a staff user (if needed) and its membership")
        add_user.add_argument("slug")
        add_user.add_argument("--username", required=True)
        add_secret_arguments(add_user, "--password", help_text="the user's password")
        add_user.add_argument("--role", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options)
            elif action == "list":
                self._list()
            elif action == "qbwc-password":
                self._qbwc_password(options)
            else:
                self._add_user(options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def _create(self, options: dict[str, Any]) -> None:
        password = read_secret(
            options, "--qbwc-password", env="QBWC_PASSWORD",
            prompt="QBWC password (empty: generate one)", stderr=self.stderr,
        )  # fmt: skip
        generated = not password
        if generated:
            password = credentials.generate_password()
        else:
            self.stderr.write(
                "warning: a chosen QBWC password is hashed with the slow hasher (every login costs a "
                "PBKDF2); leave it out to get a generated one (144 bits, fast keyed hash)"
            )
        assert password is not None
        tenant = services.tenant_create(
            slug=options["slug"],
            name=options["name"],
            qbwc_username=options["qbwc_username"],
            qbwc_password=password,
            qbwc_password_generated=generated,
            procore_environment=options["procore_env"],
            procore_company_id=positive_id("--procore-company-id", options["procore_company_id"]),
            procore_project_id=positive_id("--procore-project-id", options["procore_project_id"]),
            poll_interval_minutes=positive_id("--poll-minutes", options["poll_minutes"]),
        )
        self.stdout.write(f"created tenant {tenant.slug} (id {tenant.pk})")
        if generated:
            self.stdout.write(f"QBWC password (shown once; type it into the Web Connector): {password}")

    def _list(self) -> None:
        tenants = list(Tenant.objects.order_by("slug"))
        if not tenants:
            self.stdout.write("no tenants")
            return
        self.stdout.write(f"{'slug':<20} {'name':<30} {'qbwc user':<20} {'procore':<11} {'company':>12} {'active'}")
        for t in tenants:
            self.stdout.write(
                f"{t.slug:<20} {t.name[:30]:<30} {t.qbwc_username[:20]:<20} "
                f"{t.procore_environment:<11} {t.procore_company_id:>12} {'yes' if t.active else 'no'}"
            )

    def _qbwc_password(self, options: dict[str, Any]) -> None:
        tenant = tenant_by_slug(options["slug"])
        password = read_secret(
            options, "--qbwc-password", env="QBWC_PASSWORD",
            prompt="New QBWC password (empty: generate one)", stderr=self.stderr,
        )  # fmt: skip
        if password:
            services.tenant_qbwc_password_set(tenant=tenant, password=password)
            self.stdout.write(f"QBWC password of {tenant.slug} changed; its open sessions have ended")
            return
        password = services.tenant_qbwc_password_reset(tenant=tenant)
        self.stdout.write(
            f"new QBWC password of {tenant.slug} (shown once; type it into the Web Connector): {password}"
        )

    def _add_user(self, options: dict[str, Any]) -> None:
        tenant = tenant_by_slug(options["slug"])
        password = read_secret(options, "--password", env="USER_PASSWORD", prompt="Password", stderr=self.stderr)
        membership = services.membership_add(
            tenant=tenant, username=options["username"], password=password or "", role=options["role"]
        )
        self.stdout.write(f"{membership.user} is now {membership.role} of {tenant.slug}")
