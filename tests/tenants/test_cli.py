"""The operator CLI: tenants create/list/add-user and qwc."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from lxml import etree

from tenants.models import Membership, Tenant

CREATE = [
    "tenants",
    "create",
    "acme",
    "--name",
    "Acme Builders",
    "--qbwc-username",
    "acme-qb",
    "--qbwc-password",
    "s3cret-pass",
    "--procore-env",
    "sandbox",
    "--procore-company-id",
    "4264807",
    "--procore-project-id",
    "987654321012",
]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_then_list(db: None) -> None:
    assert "created tenant acme" in run(*CREATE)
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.procore_project_id == 987654321012
    assert tenant.check_qbwc_password("s3cret-pass")
    listing = run("tenants", "list")
    assert "acme" in listing and "Acme Builders" in listing and "sandbox" in listing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--qbwc-username": "taken-qb"}, "already used"),
        ({"--procore-env": "staging"}, "not one of"),
        ({"--procore-company-id": "12a"}, "must be a number"),
        ({"--procore-project-id": "-4"}, "positive"),
        ({"--qbwc-password": "short"}, "at least 8"),
    ],
)
def test_bad_arguments_write_nothing(db: None, change: dict[str, str], message: str) -> None:
    run(
        "tenants",
        "create",
        "other",
        "--name",
        "Other",
        "--qbwc-username",
        "taken-qb",
        "--qbwc-password",
        "s3cret-pass",
        "--procore-env",
        "sandbox",
        "--procore-company-id",
        "1",
        "--procore-project-id",
        "2",
    )
    args = list(CREATE)
    for flag, value in change.items():
        args[args.index(flag) + 1] = value
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Tenant.objects.filter(slug="acme").exists()


def test_duplicate_slug_is_refused(db: None) -> None:
    run(*CREATE)
    args = list(CREATE)
    args[args.index("--qbwc-username") + 1] = "another"
    with pytest.raises(CommandError, match="already exists"):
        run(*args)


def test_add_user_creates_staff_user_and_membership(db: None) -> None:
    run(*CREATE)
    assert "alice is now accountant of acme" in run(
        "tenants", "add-user", "acme", "--username", "alice", "--password", "alice-pass-1", "--role", "accountant"
    )
    alice = User.objects.get(username="alice")
    assert alice.is_staff and not alice.is_superuser and alice.check_password("alice-pass-1")
    assert Membership.objects.get(user=alice).role == "accountant"


def test_add_user_with_unknown_role_writes_nothing(db: None) -> None:
    run(*CREATE)
    with pytest.raises(CommandError, match="role 'boss'"):
        run("tenants", "add-user", "acme", "--username", "bob", "--password", "bob-pass-12", "--role", "boss")
    assert not User.objects.filter(username="bob").exists()


def test_qwc_holds_username_url_and_stable_ids(db: None) -> None:
    run(*CREATE)
    first = run("qwc", "acme", "--url", "https://sync.example.com/qbwc/")
    second = run("qwc", "acme", "--url", "https://sync.example.com/qbwc/")
    assert first == second
    root = etree.fromstring(first.encode())
    tenant = Tenant.objects.get(slug="acme")
    assert root.tag == "QBWCXML"
    assert root.findtext("UserName") == "acme-qb"
    assert root.findtext("AppURL") == "https://sync.example.com/qbwc/"
    assert root.findtext("OwnerID") == "{" + str(tenant.qbwc_owner_id).upper() + "}"
    assert root.findtext("FileID") == "{" + str(tenant.qbwc_file_id).upper() + "}"
    assert root.findtext("QBType") == "QBFS"
    assert root.findtext("IsReadOnly") == "true"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "15"
    assert root.findtext("AppSupport", "").startswith("https://sync.example.com/")


def test_qwc_refuses_plain_http_except_localhost(db: None) -> None:
    run(*CREATE)
    with pytest.raises(CommandError, match="requires https"):
        run("qwc", "acme", "--url", "http://sync.example.com/qbwc/")
    assert "http://localhost:8000/qbwc/" in run("qwc", "acme", "--url", "http://localhost:8000/qbwc/")


def test_qwc_for_unknown_tenant(db: None) -> None:
    with pytest.raises(CommandError, match="no tenant"):
        run("qwc", "nobody", "--url", "https://x.example.com/qbwc/")


def test_a_bad_argument_is_one_line_and_a_nonzero_exit() -> None:
    # From a real shell: what an operator's script sees.
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings")
    env["VAR_DIR"] = str(root / "var" / "cli-test")
    # Its own throwaway SQLite file, whatever database the suite runs on.
    env["DATABASE_URL"] = f"sqlite:///{root / 'var' / 'cli-test' / 'cli.sqlite3'}"
    (root / "var" / "cli-test").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True, timeout=300)
    args = list(CREATE)
    args[args.index("--procore-company-id") + 1] = "lots"
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    # The secret-on-the-command-line warnings come first; the error is one line, last.
    assert result.stderr.strip().splitlines()[-1] == "CommandError: --procore-company-id must be a number, got 'lots'"
