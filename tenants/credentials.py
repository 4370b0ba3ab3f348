"""QBWC credentials: a machine secret, generated, verified with a keyed fast hash.

The Web Connector password is typed once into QBWC, so it can be long and random:
`generate_password()` gives 144 bits. Stored as HMAC-SHA-256 under a server key
(settings.QBWC_PASSWORD_KEYS, newest first): a database dump alone reveals nothing,
and with 144 bits of entropy no key-stretching is needed, so a check costs
microseconds instead of a million PBKDF2 rounds. That is what makes an anonymous
authenticate cheap (no CPU amplification).

A password an operator chose is a human password: it keeps Django's slow hasher.
Hashes from before this scheme (PBKDF2) still verify.

Key rotation: put a new key first in QBWC_PASSWORD_KEYS and keep the old ones;
every hash names its key (an 8-hex fingerprint), and a successful login under an
old key re-hashes under the newest. Drop an old key once no tenant uses it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

PREFIX = "qbwc-hmac-sha256"
GENERATED_BYTES = 18  # 144 bits; token_urlsafe gives 24 characters


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_BYTES)


def _keys() -> list[str]:
    keys = list(settings.QBWC_PASSWORD_KEYS)
    if not keys:  # settings refuse this; a guard for hand-built settings
        raise RuntimeError("QBWC_PASSWORD_KEYS is empty")
    return keys


def _kid(key: str) -> str:
    return hashlib.sha256(b"qbwc-key-id:" + key.encode()).hexdigest()[:8]


def _mac(key: str, raw: str) -> str:
    return hmac.new(key.encode(), raw.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def hash_generated(raw: str) -> str:
    key = _keys()[0]
    return f"{PREFIX}${_kid(key)}${_mac(key, raw)}"


def hash_chosen(raw: str) -> str:
    return make_password(raw)


def is_generated(encoded: str) -> bool:
    return encoded.startswith(PREFIX + "$")


def needs_rehash(encoded: str) -> bool:
    """A generated password's hash under a key that is no longer the newest."""
    return is_generated(encoded) and encoded.split("$")[1] != _kid(_keys()[0])


def verify(raw: str, encoded: str) -> bool:
    """Constant-time check; keyed fast hash for generated passwords, Django's hasher otherwise."""
    if not is_generated(encoded):
        return bool(encoded) and check_password(raw, encoded)
    try:
        _, kid, digest = encoded.split("$", 2)
    except ValueError:
        return False
    for key in _keys():
        if hmac.compare_digest(_kid(key), kid):
            return hmac.compare_digest(_mac(key, raw), digest)
    return False


def verify_nobody(raw: str) -> bool:
    """What an unknown username costs: one keyed hash, like a generated password's check."""
    hmac.compare_digest(_mac(_keys()[0], raw), "0" * 64)
    return False
