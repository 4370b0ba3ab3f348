"""Typed, loud environment readers for settings.

Every reader names the variable in its error, so a bad deployment fails at
start-up with a message an operator can act on instead of a stack trace deep in
a request.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

# FileAwareEnv lets Docker/Kubernetes secrets be mounted: NAME_FILE=/run/secrets/x.
env = environ.FileAwareEnv()


def _raw(name: str) -> str | None:
    try:
        value = env.str(name, default=None)
    except Exception as exc:  # pragma: no cover - FileAwareEnv only fails on unreadable files
        raise ImproperlyConfigured(f"{name}: cannot be read ({exc})") from exc
    if value is None or value.strip() == "":
        return None
    return str(value).strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None else value


def env_required(name: str, hint: str) -> str:
    value = _raw(name)
    if value is None:
        raise ImproperlyConfigured(f"{name} is not set: {hint}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}{upper}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if not number >= minimum:  # also refuses NaN
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str, *, schemes: tuple[str, ...] = ("https", "http")) -> str:
    value = env_str(name, default)
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = "/".join(schemes)
        raise ImproperlyConfigured(f"{name}={value!r} is not a {allowed} URL with a host")
    return value.rstrip("/")


KNOWN_DB_ENGINES = {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
    "django.db.backends.mysql",
}


def env_database_url(name: str, default: str) -> dict[str, object]:
    value = env_str(name, default)
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    if config.get("ENGINE") not in KNOWN_DB_ENGINES:
        raise ImproperlyConfigured(f"{name}={value!r} names an unknown database scheme")
    return dict(config)


def dev_secret(path: Path, nbytes: int = 48) -> str:
    """A random secret persisted under var/ so dev restarts keep sessions and encrypted data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    path.write_text(value)
    path.chmod(0o600)
    return value
