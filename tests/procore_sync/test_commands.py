"""`manage.py procore connect|ping` against the emulator."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tenants.models import ConnectionStatus, ProcoreConnection
from tests.factories import make_tenant
from tests.harness_procore import ACME_COMPANY, Emu


@pytest.mark.django_db
def test_connect_stores_encrypted_credentials_and_ping_prints_the_company(procore_emulator: Emu) -> None:
    make_tenant(slug="acme", procore_company_id=ACME_COMPANY, procore_project_id=1)
    out = StringIO()
    call_command(
        "procore",
        "connect",
        "acme",
        "--env",
        "sandbox",
        "--client-id",
        "acme-client",
        "--client-secret",
        "acme-secret",
        stdout=out,
    )
    assert "Acme Builders Inc" in out.getvalue()
    conn = ProcoreConnection.objects.get(tenant__slug="acme")
    assert conn.status == ConnectionStatus.CONNECTED and conn.access_token and conn.token_expires_at
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT client_secret FROM tenants_procoreconnection WHERE id = %s", [conn.pk])
        assert "acme-secret" not in cur.fetchone()[0]  # encrypted at rest
    out = StringIO()
    call_command("procore", "ping", "acme", stdout=out)
    assert out.getvalue().strip() == "Acme Builders Inc"


@pytest.mark.django_db
def test_connect_with_a_bad_secret_and_ping_of_a_foreign_company_say_why(procore_emulator: Emu, settings: Any) -> None:
    make_tenant(slug="acme", procore_company_id=ACME_COMPANY, procore_project_id=1)
    with pytest.raises(CommandError, match=r"invalid_client|Client authentication failed"):
        call_command(
            "procore", "connect", "acme", "--env", "sandbox", "--client-id", "acme-client", "--client-secret", "wrong"
        )
    make_tenant(slug="other", procore_company_id=123, procore_project_id=1, procore_environment="production")
    with pytest.raises(CommandError, match="company 123 is not visible to this app"):
        call_command(
            "procore",
            "connect",
            "other",
            "--env",
            "production",
            "--client-id",
            "acme-client",
            "--client-secret",
            "acme-secret",
            stdout=StringIO(),
        )
    with pytest.raises(CommandError, match="company 123 is not visible to this app"):
        call_command("procore", "ping", "other")
    make_tenant(slug="third", procore_company_id=ACME_COMPANY, procore_project_id=1)
    with pytest.raises(CommandError, match="third is not connected to Procore sandbox"):
        call_command("procore", "ping", "third")
    with pytest.raises(CommandError, match="no tenant"):
        call_command("procore", "ping", "nobody")
