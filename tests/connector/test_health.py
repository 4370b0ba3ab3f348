"""/healthz and /readyz in this process: heartbeats from the real worker and the real beat scheduler."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.test import Client
from django.urls import resolve
from django.utils import timezone

import connector.tasks  # noqa: F401 - registers connector.heartbeat with the worker
from connector import health
from connector.beat import HeartbeatScheduler
from connector.celery import app
from connector.health import CHECKS
from connector.models import Heartbeat
from connector.views import healthz
from tests.harness_procore import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_readiness_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests change the world between two requests; the cache has its own test.
    monkeypatch.setattr(health, "CACHE_SECONDS", 0.0)


def test_healthz_answers_without_touching_anything(db: None, client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
def test_readyz_is_unready_before_any_heartbeat_and_says_why(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"] and body["checks"]["broker"]["ok"]
    assert body["checks"]["worker"] == {"ok": False, "detail": "no heartbeat yet"}
    assert body["checks"]["beat"] == {"ok": False, "detail": "no heartbeat yet"}


def test_worker_and_beat_heartbeats_make_it_ready_and_go_stale(celery_worker: Any, client: Client) -> None:
    # The worker runs the heartbeat task beat would send, through the broker.
    app.send_task("connector.heartbeat")
    wait_for(lambda: Heartbeat.objects.filter(component="worker").exists(), message="worker heartbeat")
    # Beat's own loop: the scheduler's tick records the beat heartbeat.
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    scheduler.tick()
    assert Heartbeat.objects.filter(component="beat").exists()

    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["ready"] is True

    Heartbeat.objects.update(seen_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["detail"].startswith("last heartbeat 600s ago")


@pytest.mark.django_db
def test_readyz_can_run_a_subset_and_refuses_unknown_checks(client: Client) -> None:
    response = client.get("/readyz?check=database,migrations")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "migrations"}
    assert client.get("/readyz?check=database,bogus").status_code == 400


@pytest.mark.django_db
def test_health_command_exits_non_zero_when_a_check_fails(capsys: Any) -> None:
    call_command("health", "database", "migrations")
    assert json.loads(capsys.readouterr().out)["ready"] is True
    with pytest.raises(CommandError) as raised:
        call_command("health", "worker")
    assert raised.value.returncode == 1


def test_compose_health_checks_use_our_endpoints_and_commands() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert resolve("/healthz").func is healthz
    known = set(get_commands())
    for name, checks in (("worker", {"worker", "broker"}), ("beat", {"beat"})):
        test = services[name]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "manage.py", "health"] and "health" in known
        assert checks <= set(test[4:]) <= set(CHECKS)
    assert services["beat"]["command"][services["beat"]["command"].index("--scheduler") + 1] == (
        "connector.beat:HeartbeatScheduler"
    )


@pytest.mark.django_db
def test_a_flood_of_readyz_requests_runs_the_checks_once_per_interval(
    client: Client, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    monkeypatch.setattr(health, "CACHE_SECONDS", 60.0)
    monkeypatch.setattr(health, "_cache", {})
    first = client.get("/readyz?check=database,worker")
    with django_assert_num_queries(0):
        for _ in range(20):
            assert client.get("/readyz?check=worker,database").json() == first.json()
