"""Liveness and readiness: what /healthz, /readyz and `manage.py health` report.

Readiness = the database answers, every migration is applied, the broker answers,
and the worker and beat heartbeats (connector.heartbeat) are fresh. Details stay
vague on purpose (an exception class, an age): /readyz is unauthenticated.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from connector.celery import app
from connector.heartbeat import COMPONENTS, heartbeat_age

log = logging.getLogger(__name__)

CHECKS = ("database", "migrations", "broker", *COMPONENTS)
# Seconds the broker check waits for a connection or an answer.
BROKER_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""


def check_database() -> Check:
    conn = connections[DEFAULT_DB_ALIAS]
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        # Drop the broken connection so the next request reconnects (recovery needs no restart).
        conn.close()
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True)


_all_applied = False  # once true it stays true for this process: new migrations come with a new deploy


def check_migrations() -> Check:
    global _all_applied
    if _all_applied:
        return Check(True)
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return Check(False, f"cannot read migration state ({type(exc).__name__})")
    if plan:
        return Check(False, f"{len(plan)} migration(s) not applied: run manage.py migrate")
    _all_applied = True
    return Check(True)


def check_broker() -> Check:
    """Open a connection and ask the broker one real question (the default queue's size)."""
    options = {"socket_connect_timeout": BROKER_TIMEOUT_SECONDS, "socket_timeout": BROKER_TIMEOUT_SECONDS}
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        options = {}
    try:
        with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
            passive = conn.transport_cls in ("amqp", "pyamqp")
            channel: Any = conn.default_channel  # kombu types it as the abstract StdChannel
            channel.queue_declare(queue=app.conf.task_default_queue, passive=passive)
    except Exception as exc:
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True)


def check_heartbeat(component: str) -> Check:
    try:
        age = heartbeat_age(component=component)
    except Exception as exc:
        return Check(False, f"unknown ({type(exc).__name__})")
    if age is None:
        return Check(False, "no heartbeat yet")
    seconds = int(age.total_seconds())
    limit = settings.READINESS_HEARTBEAT_MAX_AGE_SECONDS
    if seconds > limit:
        return Check(False, f"last heartbeat {seconds}s ago (limit {limit}s)")
    return Check(True, f"last heartbeat {seconds}s ago")


def readiness(only: tuple[str, ...] = CHECKS) -> tuple[bool, dict[str, dict[str, object]]]:
    """Run the named checks; (all ok, {name: {"ok": ..., "detail": ...}})."""
    only = _known(only)
    results: dict[str, Check] = {}
    database_ok = True
    for name in only:
        if name != "database" and name != "broker" and not database_ok:
            results[name] = Check(False, "database unreachable")
            continue
        if name == "database":
            results[name] = check_database()
            database_ok = results[name].ok
        elif name == "migrations":
            results[name] = check_migrations()
        elif name == "broker":
            results[name] = check_broker()
        else:
            results[name] = check_heartbeat(name)
    ok = all(c.ok for c in results.values())
    if not ok:
        log.warning("not ready: %s", ", ".join(f"{n}: {c.detail}" for n, c in results.items() if not c.ok))
    return ok, {name: asdict(check) for name, check in results.items()}


def _known(only: tuple[str, ...]) -> tuple[str, ...]:
    """The named checks in CHECKS order, each once; ValueError naming any unknown one."""
    unknown = set(only) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s): {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}")
    return tuple(name for name in CHECKS if name in only)


# /readyz is public: one answer per check set per process every CACHE_SECONDS, so a flood of
# requests costs neither a broker connection nor database queries each.
CACHE_SECONDS = 2.0
_cache: dict[tuple[str, ...], tuple[float, tuple[bool, dict[str, dict[str, object]]]]] = {}
_cache_lock = threading.Lock()


def readiness_cached(only: tuple[str, ...] = CHECKS) -> tuple[bool, dict[str, dict[str, object]]]:
    key = _known(only)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        result = readiness(key)
        _cache[key] = (time.monotonic(), result)
        return result
