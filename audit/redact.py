"""The one rule set that keeps secrets out of logs, exception text and the audit trail.

Everything that may reach a SyncEvent, a log line or an error message goes through
`redact` (or `redact_url` for a URL): OAuth form fields, JSON bodies, headers and free
text. Business values stay readable: a Procore 422 naming a cost code (`"code":
"03-300"`, `cost_code=03-300`, `origin_code=V1`) must reach the operator as it was.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "[redacted]"

# A key whose value is a secret, wherever it appears in the key (access_token, Client_Secret,
# X-Api-Key, Set-Cookie, Proxy-Authorization).
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|client[_-]?id|cookie", re.I)

# OAuth's authorization code is called plain `code`, the same word Procore uses for a cost
# code. Mask it only where OAuth puts it: a query string or form body (`code=`, never
# `cost_code=`), or a token-request mapping that also carries grant_type / redirect_uri.
_OAUTH_GRANT_KEYS = frozenset({"grant_type", "redirect_uri"})
_CODE_KEY = "code"

# The same secrets inside free text: response excerpts, error messages, URLs.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/=]+")
_KEY_VALUE = re.compile(
    r"(?i)(\b(?:access_token|refresh_token|id_token|client_secret|client_id|password|passwd|api[_-]?key)\"?"
    r"\s*[:=]\s*\"?)([^\"&\s,}]+)"
)
_FORM_CODE = re.compile(r"(?i)(\bcode=)([^&\s\"]+)")


# A word every one of the three patterns above needs (same flags, so the same case folding):
# text without any is returned as it is after one scan instead of three substitutions. Most
# text stored is ours (a qb.received event's message and values): redacting them was a tenth
# of storing a 500-bill page (bench/bench_qbwc.py section 4, py-spy).
_MAYBE_SECRET = re.compile(
    r"(?i)bearer|access_token|refresh_token|id_token|client_secret|client_id|password|passwd|api[_-]?key|code="
)


def _may_hold_secret(text: str) -> bool:
    """False only when none of the patterns above can match `text` (True may be a false alarm)."""
    if text.isascii():
        # ASCII text folds case as the patterns do; each word is a superset of some patterns'
        # words ("_token": access_token, refresh_token, id_token). A regex search here was 2 µs.
        low = text.lower()
        return (
            "_token" in low or "client_" in low or "passw" in low or "key" in low or "bearer" in low or "code=" in low
        )
    return _MAYBE_SECRET.search(text) is not None


def redact_text(text: str) -> str:
    """`text` with bearer tokens, `key=value` / `"key": "value"` secrets and OAuth codes masked."""
    return _masked(text) if _may_hold_secret(text) else text


def _masked(text: str) -> str:
    """The three substitutions themselves (what redact_text gives whenever a secret may be there)."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
    return _FORM_CODE.sub(lambda m: m.group(1) + MASK, text)


def _is_secret_key(key: object, *, oauth_grant: bool) -> bool:
    name = str(key)
    return _is_secret_name(name) or (oauth_grant and name.lower() == _CODE_KEY)


@functools.lru_cache(maxsize=4096)
def _is_secret_name(name: str) -> bool:
    # Remembered per key: the keys we store are a few dozen names, asked once per value.
    return bool(_SECRET_KEY.search(name))


def redact(value: Any) -> Any:
    """A deep copy of a JSON-like value with every secret masked; the input is not modified.

    Values under secret keys become "[redacted]" (empty ones stay empty, so "no token"
    remains visible); strings go through redact_text.
    """
    if isinstance(value, str):  # first: the commonest value, and a cheaper test than the Mapping ABC
        return redact_text(value)
    if isinstance(value, dict | Mapping):
        oauth_grant = any(str(k).lower() in _OAUTH_GRANT_KEYS for k in value)
        return {
            k: (MASK if _is_secret_key(k, oauth_grant=oauth_grant) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """`url` with secret query parameters (and OAuth's `code`) masked."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, MASK if _is_secret_key(k, oauth_grant=True) else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="[]")))
