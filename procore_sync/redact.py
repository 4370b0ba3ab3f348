"""Keep secrets out of logs and the audit trail.

Anything that may reach a SyncEvent, a log line or an exception message goes
through here first: OAuth form fields, JSON bodies, headers, URLs and free text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "[redacted]"

SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "client_id",
        "code",
        "password",
        "authorization",
        "id_token",
        "token",
    }
)

# `Bearer abc…` and `"access_token": "…"`/`refresh_token=…` inside free text.
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/=]+")
_KV = re.compile(
    r"(?i)(\"?(?:access_token|refresh_token|client_secret|client_id|id_token|code)\"?\s*[:=]\s*\"?)"
    r"([^\"&\s,}]+)"
)


def redact_text(text: str) -> str:
    text = _BEARER.sub("Bearer " + MASK, text)
    return _KV.sub(lambda m: m.group(1) + MASK, text)


def redact_value(value: Any) -> Any:
    """Deep copy of a JSON-like value with every secret field masked."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if str(k).lower() in SECRET_KEYS and v not in (None, "") else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SECRET_KEYS else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, MASK if k.lower() in SECRET_KEYS else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))
