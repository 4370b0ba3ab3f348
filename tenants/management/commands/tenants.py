"""Operator CLI for onboarding: `tenants create|list|add-user`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import services
from tenants.cli import tenant_by_slug
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
        create.add_argument("--qbwc-password", required=True)
        # Validated by the service so a bad value is a one-line error, not argparse usage.
        create.add_argument("--procore-env", required=True)
        create.add_argument("--procore-company-id", required=True)
        create.add_argument("--procore-project-id", required=True)
        create.add_argument("--poll-minutes", default="15")

        sub.add_parser("list", help="List tenants")

        add_user = sub.add_parser("add-user", help="Create a staff user (if needed) and its membership")
        add_user.add_argument("slug")
        add_user.add_argument("--username", required=True)
        add_user.add_argument("--password", required=True)
        add_user.add_argument("--role", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options)
            elif action == "list":
                self._list()
            else:
                self._add_user(options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def _create(self, options: dict[str, Any]) -> None:
        tenant = services.tenant_create(
            slug=options["slug"],
            name=options["name"],
            qbwc_username=options["qbwc_username"],
            qbwc_password=options["qbwc_password"],
            procore_environment=options["procore_env"],
            procore_company_id=positive_id("--procore-company-id", options["procore_company_id"]),
            procore_project_id=positive_id("--procore-project-id", options["procore_project_id"]),
            poll_interval_minutes=positive_id("--poll-minutes", options["poll_minutes"]),
        )
        self.stdout.write(f"created tenant {tenant.slug} (id {tenant.pk})")

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

    def _add_user(self, options: dict[str, Any]) -> None:
        tenant = tenant_by_slug(options["slug"])
        membership = services.membership_add(
            tenant=tenant, username=options["username"], password=options["password"], role=options["role"]
        )
        self.stdout.write(f"{membership.user} is now {membership.role} of {tenant.slug}")
