"""Settings fail at start with a message that names the bad variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess[str]:
    # Only the process basics: every setting comes from this test, none from the runner.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")}
    base.update({"DJANGO_SETTINGS_MODULE": "connector.settings", "VAR_DIR": str(ROOT / "var" / "settings-test")})
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD = {"SECRET_KEY": "x" * 40, "FIELD_ENCRYPTION_KEYS": "k" * 32}


def test_it_starts_with_good_values() -> None:
    result = start(**GOOD)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_debug_generates_a_dev_key_but_production_requires_one() -> None:
    assert start(DEBUG="1").returncode == 0
    result = start(DEBUG="0", FIELD_ENCRYPTION_KEYS="k" * 32)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_requires_field_encryption_keys() -> None:
    result = start(DEBUG="0", SECRET_KEY="x" * 40)
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "nosuchdb://x/y"),
        ("PROCORE_SANDBOX_API_URL", "not a url"),
        ("PROCORE_PRODUCTION_LOGIN_URL", "ftp://login.procore.com"),
        ("QBWC_MAX_RETURNED", "lots"),
        ("QBWC_MAX_RETURNED", "0"),
        ("DEBUG", "maybe"),
        ("CELERY_BROKER_URL", "kafka://broker"),
        ("LOG_LEVEL", "LOUD"),
        ("SECRET_KEY", "short"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(name: str, value: str) -> None:
    result = start(**{**GOOD, name: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert name in last_line


def test_procore_hosts_default_to_procore_and_can_point_at_an_emulator(settings) -> None:  # type: ignore[no-untyped-def]
    from connector import settings as real

    if "PROCORE_SANDBOX_API_URL" not in os.environ:
        assert real.PROCORE_SANDBOX_API_URL == "https://sandbox.procore.com"
        assert real.PROCORE_PRODUCTION_API_URL == "https://api.procore.com"
        assert real.PROCORE_SANDBOX_LOGIN_URL == "https://login-sandbox.procore.com"
        assert real.PROCORE_PRODUCTION_LOGIN_URL == "https://login.procore.com"
    result = start(**GOOD, PROCORE_SANDBOX_API_URL="http://127.0.0.1:8765/")
    assert result.returncode == 0, result.stderr


def test_celery_is_configured_for_late_acks() -> None:
    from connector.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
