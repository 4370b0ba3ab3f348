"""Helpers shared by the management commands (the operator's interface)."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError, CommandParser

from tenants.models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    """The tenant with that slug, or a one-line CommandError an operator can act on."""
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise CommandError(f"no tenant with slug {slug!r}") from None


# --- secrets on the command line (issue 10) ---------------------------------------------
# A secret given as an argument is visible in `ps` and kept in shell history. Every
# command that takes one also reads it from a file (--NAME-file PATH, "-" = stdin),
# an environment variable, or an interactive prompt; the argument form still works
# (scripts, tests) but warns.

ARGUMENT_WARNING = (
    "warning: {flag} on the command line is visible to other users (ps) and kept in shell "
    "history; prefer {flag}-file, ${env}, or the interactive prompt"
)


def add_secret_arguments(parser: CommandParser, flag: str, *, help_text: str) -> None:
    parser.add_argument(flag, default=None, help=f"{help_text} (insecure: prefer {flag}-file)")
    parser.add_argument(
        f"{flag}-file", default=None, metavar="PATH", help=f"read {help_text} from a file ('-' = stdin)"
    )


def read_secret(
    options: dict[str, Any], flag: str, *, env: str, prompt: str, stderr: Any, stdin: TextIO | None = None
) -> str | None:
    """The secret from --X-file, $ENV, --X (with a warning) or a prompt; None if none was given."""
    stdin = stdin or sys.stdin
    key = flag.lstrip("-").replace("-", "_")
    path = options.get(key + "_file")
    if path:
        try:
            text = stdin.read() if path == "-" else Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"{flag}-file {path}: {exc.strerror}") from None
        value = text.splitlines()[0] if text.strip() else ""
        if not value:
            raise CommandError(f"{flag}-file {path} is empty")
        return value
    if os.environ.get(env):
        return os.environ[env]
    if options.get(key):
        stderr.write(ARGUMENT_WARNING.format(flag=flag, env=env) + "\n")
        return str(options[key])
    if stdin.isatty():
        value = getpass.getpass(prompt + ": ")
        if value and getpass.getpass(prompt + " (again): ") != value:
            raise CommandError("the two entries differ")
        return value or None
    return None
