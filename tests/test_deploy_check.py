"""Finding 9: `manage.py check --deploy` is clean with the production example settings.

The example is .env.example itself (what an operator copies), run in a subprocess
so nothing of the test settings leaks in.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def example_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not re.match(r"^[A-Z_]+$", k) or k in ("PATH", "HOME", "LANG")}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z_]+)=(.*)$", line)
        if match and match.group(2):
            env[match.group(1)] = match.group(2)
    # The example's database and broker are not running here; check --deploy needs neither.
    env.update(
        VAR_DIR=str(tmp), DATABASE_URL=f"sqlite:///{tmp / 'x.sqlite3'}", DJANGO_SETTINGS_MODULE="connector.settings"
    )
    env.pop("PASSWORD_HASHERS_FAST", None)
    return env


def test_check_deploy_is_clean_with_the_production_example(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_proxy_ssl_header_is_trusted_only_behind_our_proxy(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
    for behind, expected in (("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")):
        env = example_env(tmp_path) | {"BEHIND_PROXY": behind}
        done = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout.strip() == expected, done.stderr
