"""Finding 10: secrets reach the command line by file, environment or prompt, never only as arguments.

The argument form still works but warns; user passwords go through
AUTH_PASSWORD_VALIDATORS; with no QBWC password a generated one is shown once.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from tenants import credentials
from tenants.models import Tenant

BASE = [
    "tenants",
    "create",
    "acme",
    "--name",
    "Acme Builders",
    "--qbwc-username",
    "acme-qb",
    "--procore-env",
    "sandbox",
    "--procore-company-id",
    "1",
    "--procore-project-id",
    "2",
]


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_no_password_given_means_a_generated_one_shown_once_and_stored_as_a_keyed_hash(db: None) -> None:
    out, err = run(*BASE)
    password = out.split("Web Connector): ")[1].strip()
    assert len(password) >= 22  # >= 128 bits
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.qbwc_password.startswith(credentials.PREFIX + "$")
    assert password not in tenant.qbwc_password
    assert tenant.check_qbwc_password(password) and not tenant.check_qbwc_password(password + "x")
    assert "warning" not in err


def test_a_password_file_is_read_and_not_warned_about(db: None, tmp_path: Path) -> None:
    secret = tmp_path / "qbwc"
    secret.write_text("from-a-file-9x7\n")
    _, err = run(*BASE, "--qbwc-password-file", str(secret))
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.check_qbwc_password("from-a-file-9x7")
    assert not credentials.is_generated(tenant.qbwc_password)  # a chosen password keeps the slow hasher
    assert "on the command line" not in err and "slow hasher" in err


def test_the_environment_variable_is_read(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBWC_PASSWORD", "from-the-env-4k2")
    run(*BASE)
    assert Tenant.objects.get(slug="acme").check_qbwc_password("from-the-env-4k2")


def test_the_argument_form_warns(db: None) -> None:
    _, err = run(*BASE, "--qbwc-password", "on-the-line-8q1")
    assert "visible to other users" in err
    assert Tenant.objects.get(slug="acme").check_qbwc_password("on-the-line-8q1")


def test_user_passwords_go_through_the_validators(db: None, tmp_path: Path) -> None:
    run(*BASE)
    for weak in ("password", "12345678"):
        with pytest.raises(CommandError, match=r"too common|too short|entirely numeric"):
            run("tenants", "add-user", "acme", "--username", "bob", "--password", weak, "--role", "accountant")
    assert not User.objects.filter(username="bob").exists()
    secret = tmp_path / "pw"
    secret.write_text("a-Decent-passphrase-77")
    run("tenants", "add-user", "acme", "--username", "bob", "--password-file", str(secret), "--role", "accountant")
    assert User.objects.get(username="bob").check_password("a-Decent-passphrase-77")


def test_a_reset_generates_a_new_password_and_the_old_one_stops_working(db: None) -> None:
    out, _ = run(*BASE)
    old = out.split("Web Connector): ")[1].strip()
    out, _ = run("tenants", "qbwc-password", "acme")
    new = out.split("Web Connector): ")[1].strip()
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.check_qbwc_password(new) and not tenant.check_qbwc_password(old)


def test_procore_client_secret_needs_a_source(db: None) -> None:
    run(*BASE)
    with pytest.raises(CommandError, match="no client secret"):
        run("procore", "connect", "acme", "--env", "sandbox", "--client-id", "x")
