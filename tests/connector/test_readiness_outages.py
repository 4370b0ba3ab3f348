"""/readyz of the real web server goes unhealthy when PostgreSQL or the broker stops, and recovers.

Everything here is throwaway: our own PostgreSQL cluster and redis-server on free ports,
the web server (granian) and a Celery worker with embedded beat as subprocesses. The machine's shared
PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.connector.servers import (
    manage,
    postgres_available,
    postgres_cluster,
    processes,
    product_env,
    redis_server,
    wait_until,
)

pytestmark = pytest.mark.slow


def readyz(base: str) -> tuple[int, dict[str, Any]]:
    response = requests.get(base + "/readyz", timeout=15)
    return response.status_code, response.json()


def failing(base: str) -> set[str]:
    status, body = readyz(base)
    return set() if status == 200 else {name for name, check in body["checks"].items() if not check["ok"]}


@pytest.mark.skipif(not postgres_available(), reason="needs initdb/pg_ctl for a throwaway PostgreSQL cluster")
@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server for a throwaway broker")
def test_readyz_follows_postgresql_and_redis_going_down_and_coming_back(tmp_path: Path) -> None:
    with postgres_cluster() as pg, redis_server() as redis:
        env = product_env(tmp_path, DATABASE_URL=pg.url, CELERY_BROKER_URL=redis.url)
        with processes(env, tmp_path / "logs") as run:
            base = run.web()
            status, body = readyz(base)
            assert status == 503 and not body["checks"]["migrations"]["ok"], body  # a fresh database

            manage(env, "migrate", "--noinput")
            manage(env, "setup_periodic_tasks")
            run.worker_with_beat()
            wait_until(lambda: failing(base) == set(), timeout=90, message="ready with worker and beat heartbeats")

            redis.kill()
            wait_until(lambda: "broker" in failing(base), timeout=30, message="broker reported down")
            assert failing(base) == {"broker"}
            redis.start()
            wait_until(lambda: failing(base) == set(), timeout=60, message="ready again after redis came back")

            pg.stop()
            wait_until(lambda: "database" in failing(base), timeout=30, message="database reported down")
            status, body = readyz(base)
            assert status == 503 and body["checks"]["database"]["detail"].startswith("unreachable")
            pg.start()
            wait_until(lambda: failing(base) == set(), timeout=90, message="ready again after PostgreSQL came back")
