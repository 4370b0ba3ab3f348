"""No QBWC password or Procore secret is ever stored in clear text."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from tenants.models import ProcoreConnection
from tests.factories import make_connection, make_tenant


def raw_row(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return " ".join(str(col) for col in cursor.fetchone())


def test_qbwc_password_is_hashed(db: None) -> None:
    tenant = make_tenant(slug="acme", qbwc_password="Sup3r-Secret-QB")
    raw = raw_row("tenants_tenant", tenant.pk)
    assert "Sup3r-Secret-QB" not in raw
    assert tenant.check_qbwc_password("Sup3r-Secret-QB")
    assert not tenant.check_qbwc_password("sup3r-secret-qb")


def test_procore_secrets_are_encrypted_at_rest(db: None) -> None:
    tenant = make_tenant(slug="acme")
    conn = make_connection(
        tenant,
        client_id="CID-plain-123",
        client_secret="SECRET-plain-456",
        access_token="ACCESS-plain-789",
        refresh_token="REFRESH-plain-000",
    )
    raw = raw_row("tenants_procoreconnection", conn.pk)
    for secret in ("CID-plain-123", "SECRET-plain-456", "ACCESS-plain-789", "REFRESH-plain-000"):
        assert secret not in raw
    fresh = ProcoreConnection.objects.get(pk=conn.pk)
    assert fresh.client_secret == "SECRET-plain-456"
    assert fresh.refresh_token == "REFRESH-plain-000"
    assert "SECRET" not in repr(fresh) and "SECRET" not in str(fresh)


def _reset_field_keys() -> None:
    for name in ("client_id", "client_secret", "access_token", "refresh_token"):
        field = ProcoreConnection._meta.get_field(name)
        field.__dict__.pop("keys", None)
        field.__dict__.pop("f", None)


@pytest.fixture
def fresh_keys():  # type: ignore[no-untyped-def]
    _reset_field_keys()
    yield
    _reset_field_keys()


def test_rotated_keys_still_decrypt_old_values(db: None, fresh_keys: None) -> None:
    tenant = make_tenant(slug="acme")
    with override_settings(SALT_KEY=["old-field-key-0123456789"]):
        _reset_field_keys()
        conn = make_connection(tenant, client_secret="written-with-old-key")
    with override_settings(SALT_KEY=["new-field-key-9876543210", "old-field-key-0123456789"]):
        _reset_field_keys()
        assert ProcoreConnection.objects.get(pk=conn.pk).client_secret == "written-with-old-key"
    with override_settings(SALT_KEY=["new-field-key-9876543210"]):
        _reset_field_keys()
        # Without the old key the value is unreadable: the old key really was needed.
        assert ProcoreConnection.objects.get(pk=conn.pk).client_secret != "written-with-old-key"
