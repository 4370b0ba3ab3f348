"""The PostgreSQL health check asks the socket, not the server (connector/pgbackend/base.py).

On real PostgreSQL: a healthy idle connection is judged usable without a statement (the
server's own record of the backend's last query proves nothing was sent), and a backend
the server terminated is judged unusable, after which Django reconnects.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _skip_unless_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no server connection to check")


def _admin() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def _last_query(pid: int) -> str:
    with _admin() as admin:
        row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None, f"backend {pid} is gone"
    return str(row[0])


def test_a_healthy_connection_is_usable_without_a_round_trip() -> None:
    _skip_unless_postgresql()
    assert connection.settings_dict["ENGINE"] == "connector.pgbackend"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 42 /* the last statement */")
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    assert "pg_backend_pid" in _last_query(pid)
    for _ in range(3):
        assert connection.is_usable()
    # Django's own check would have left "SELECT 1" as this backend's last query.
    assert "pg_backend_pid" in _last_query(pid)


def test_a_terminated_backend_is_unusable_and_django_reconnects() -> None:
    _skip_unless_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with _admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    deadline = time.monotonic() + 10
    while connection.is_usable():  # the server's goodbye reaches the socket within moments
        assert time.monotonic() < deadline, "a terminated backend still looked usable"
        time.sleep(0.05)
    # What Django does at the start of a request: the failed check closes, the query reconnects.
    connection.health_check_done = False  # type: ignore[attr-defined]
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (again,) = cursor.fetchone()
    assert again != pid
