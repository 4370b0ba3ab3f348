"""Issue 11 credentials: generated passwords verify with HMAC-SHA-256, chosen ones with the slow hasher."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password

from tenants import credentials
from tests.factories import make_tenant


def test_an_existing_pbkdf2_hash_still_verifies(db: None, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    tenant = make_tenant(slug="old")
    tenant.qbwc_password = make_password("from-before-the-migration")  # what 0002 stored
    tenant.save()
    assert tenant.check_qbwc_password("from-before-the-migration")
    assert not tenant.check_qbwc_password("something-else")


def test_a_generated_password_is_a_keyed_hash_that_survives_key_rotation(db: None, settings: Any) -> None:
    settings.QBWC_PASSWORD_KEYS = ["k1" * 16]
    tenant = make_tenant(slug="gen")
    password = credentials.generate_password()
    tenant.set_qbwc_password(password, generated=True)
    assert tenant.qbwc_password.startswith("qbwc-hmac-sha256$")
    settings.QBWC_PASSWORD_KEYS = ["k2" * 16, "k1" * 16]  # rotation: new key first, old kept
    assert tenant.check_qbwc_password(password)
    assert credentials.needs_rehash(tenant.qbwc_password)
    settings.QBWC_PASSWORD_KEYS = ["k2" * 16]  # the old key dropped too early
    assert not tenant.check_qbwc_password(password)


def test_a_chosen_password_uses_the_slow_hasher(db: None, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    tenant = make_tenant(slug="chosen", qbwc_password="an-operator-choice")
    assert tenant.qbwc_password.startswith("pbkdf2_sha256$")
    assert tenant.check_qbwc_password("an-operator-choice")
