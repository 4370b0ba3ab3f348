"""PostgreSQL connections bind parameters on the server and keep repeated statements prepared
(PostgreSQL then caches their plans); a query whose plan depends on its values stays unprepared;
DATABASE_PREPARED_STATEMENTS=0 turns both off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection

from audit.compiled_sql import fetch_row
from qbwc import login
from tests.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]
PG = "postgres://u@db.example:5432/connector"


def _options(**env: str) -> dict[str, object]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")}
    base |= {"DJANGO_SETTINGS_MODULE": "connector.settings", "DEBUG": "1", "VAR_DIR": str(ROOT / "var" / "pg-opts")}
    code = "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps(s.DATABASES['default'].get('OPTIONS', {})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_postgresql_gets_server_binding_and_prepared_statements() -> None:
    assert _options(DATABASE_URL=PG) == {"server_side_binding": True, "prepare_threshold": 5}
    # Options the URL brings are kept, and no plan_cache_mode is forced on every statement
    # (forcing custom plans re-planned each foreign-key check at COMMIT: 3.5x its time).
    with_own = _options(DATABASE_URL=PG + "?options=-c%20statement_timeout%3D5000")
    assert with_own["options"] == "-c statement_timeout=5000"


def test_behind_a_transaction_mode_pooler_they_can_be_turned_off() -> None:
    assert _options(DATABASE_URL=PG, DATABASE_PREPARED_STATEMENTS="0") == {}
    assert _options(DATABASE_URL="sqlite:////tmp/x.sqlite3").get("server_side_binding") is None


@pytest.mark.django_db
def test_a_repeated_statement_is_prepared() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: prepared statements are a PostgreSQL connection's")
    if not connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold"):
        pytest.skip("DATABASE_PREPARED_STATEMENTS=0 in this run")
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("auto",)
        for n in range(7):
            cursor.execute("SELECT %s::int + 1 AS prepared_probe", [n])
            assert cursor.fetchone() == (n + 1,)
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%prepared_probe%"])
        assert cursor.fetchone() == (1,)


def _prepared_like(pattern: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [pattern])
        (n,) = cursor.fetchone()
    return int(n)


@pytest.mark.django_db
def test_the_login_facts_query_is_planned_for_its_values_every_time() -> None:
    """authenticate's facts query is never prepared (a generic plan of it read a tenant's whole
    session history), while the same statement without the flag is, and the connection's
    threshold is back afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: prepared statements are a PostgreSQL connection's")
    if not connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold"):
        pytest.skip("DATABASE_PREPARED_STATEMENTS=0 in this run")
    tenant = make_tenant()
    now = datetime.now(UTC)
    for _ in range(8):
        assert login._facts(tenant.qbwc_username, "203.0.113.9", tenant, now).open_live is False
    assert _prepared_like("%client_address%ORDER BY%") == 0
    assert connection.connection.prepare_threshold == 5

    def probe(qn: object) -> tuple[str, list[object], list[object]]:
        return "SELECT 1 AS facts_control_probe", [], [None]

    for _ in range(7):
        assert fetch_row(probe, []) == [1]  # type: ignore[arg-type]
    assert _prepared_like("%facts_control_probe%") == 1
