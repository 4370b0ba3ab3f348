"""Drills 6-7: the worker process dies mid-push; the broker loses its queued messages."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from audit.models import EventCode, JobState, PushJob
from tests.drills.harness import Drill, change, dataset, wait_for, wait_settled

SWEEP_TASK = "audit.outbox_sweep"


def broker_lose_everything() -> None:
    """What a Redis restart without persistence does: every queued message is gone."""
    url = django_settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        for message in (django_settings.BROKER_DIR / "queue").glob("*.msg"):
            message.unlink(missing_ok=True)
    else:
        import redis

        redis.Redis.from_url(url).flushdb()  # this run's own broker db, never the shared server


def test_drill_07_redis_broker_restarted_the_sweep_picks_up_what_was_queued(drill: Drill, settings: Any) -> None:
    from connector.celery import app

    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset())
    drill.sync(company)
    change(
        company,
        edit_bills=[
            {"TxnID": b["TxnID"], "line_amount": f"{500 + i}.{i:02d}"} for i, b in enumerate(company.data.bills)
        ],
    )
    # Keep the tenant's push in flight (3 s, inside a 5 s timeout: one batch holds the tenant's
    # lane) while the broker loses every message queued meanwhile.
    settings.PROCORE_TIMEOUT_SECONDS = 5
    state.inject("latency", delay=3.0, method="PATCH", path=r"/direct_costs/line_items/sync$", count=1)
    drill.run(company)
    wait_for(lambda: PushJob.objects.filter(tenant=acme, state=JobState.IN_FLIGHT).exists(), message="a push in flight")
    broker_lose_everything()
    wait_for(
        lambda: not PushJob.objects.filter(tenant=acme, state=JobState.IN_FLIGHT).exists(),
        message="the busy push to end",
    )

    lost = PushJob.objects.filter(tenant=acme, state=JobState.PENDING)
    # A minute later the periodic sweep runs (beat sends it through the restarted broker).
    PushJob.objects.filter(pk__in=lost.values("pk")).update(not_before=timezone.now() - timedelta(minutes=2))
    app.send_task(SWEEP_TASK)
    wait_settled()
    drill.check(company)


# --- drill 6: a worker process SIGKILLed mid-push --------------------------------------

DRILL_QUEUE = "drills-subprocess"
ROUTED = ("procore_sync.push_job_run", "procore_sync.in_flight_reap", "audit.outbox_sweep")


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"  # the test database file (DATABASES TEST NAME)
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def routed_to_subprocess_workers() -> Iterator[None]:
    """Send the pusher's tasks to a queue only the subprocess workers consume (the in-process one keeps its own)."""
    from celery.app.routes import MapRoute

    from connector.celery import app

    route = MapRoute({name: {"queue": DRILL_QUEUE} for name in ROUTED})
    router: Any = app.amqp.router  # celery-types leaves Router.routes out
    before = router.routes
    router.routes = [route, *before]
    try:
        yield
    finally:
        router.routes = before


class WorkerProcess:
    """`celery -A connector worker` as a separate process, on the test's database, broker and emulator."""

    def __init__(self, name: str, emulator_url: str, log_dir: Path) -> None:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=_database_url(),
            CELERY_BROKER_URL=django_settings.CELERY_BROKER_URL,
            VAR_DIR=str(django_settings.VAR_DIR),
            PROCORE_IN_FLIGHT_TIMEOUT_SECONDS="2",
            PROCORE_JOB_RETRY_BASE_SECONDS="0.1",
            PROCORE_BACKOFF_BASE_SECONDS="0.01",
            PROCORE_BACKOFF_MAX_SECONDS="0.2",
            PROCORE_TIMEOUT_SECONDS="10",
            LOG_LEVEL="INFO",
        )
        for side in ("SANDBOX", "PRODUCTION"):
            env[f"PROCORE_{side}_API_URL"] = env[f"PROCORE_{side}_LOGIN_URL"] = emulator_url
        self.log_path = log_dir / f"worker-{name}.log"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "connector",
                "worker",
                "--pool=solo",
                "-Q",
                f"{DRILL_QUEUE},celery",
                "-n",
                f"{name}@drills",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL takes the whole worker
        )
        log.close()

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def test_drill_06_worker_process_killed_mid_push(drill: Drill, celery_worker: Any) -> None:
    from connector.celery import app

    # Triggers sent from inside the subprocess workers (a batch starting its tenant's next job)
    # are not routed; the in-process worker must not take them, or it would hold the batch.
    default_queue = app.conf.task_default_queue
    celery_worker.consumer.cancel_task_queue(default_queue)

    state, acme = drill.state, drill.t.acme
    company = drill.company(dataset(vendors=5, bills=15))
    # The first batch's line sync hangs 2 s in Procore (which then commits it): the worker dies meanwhile.
    hang = state.inject("latency", delay=2.0, method="PATCH", path="/direct_costs/line_items/sync$")
    log_dir = django_settings.VAR_DIR / "drills"
    log_dir.mkdir(parents=True, exist_ok=True)
    workers: list[WorkerProcess] = []
    try:
        with routed_to_subprocess_workers():
            first = WorkerProcess("first", drill.emu.url, log_dir)
            workers.append(first)
            drill.run(company)
            wait_for(lambda: hang.count == 0, timeout=60, message="a bill push in flight in the worker process")
            first.kill()
            assert first.proc.returncode == -signal.SIGKILL
            stuck_jobs = list(PushJob.objects.filter(tenant=acme, state=JobState.IN_FLIGHT))
            assert stuck_jobs and {j.op for j in stuck_jobs} == {"bill_upsert"}  # one batch of the tenant's bills
            stuck = stuck_jobs[0]
            assert stuck.in_flight_since is not None
            since = stuck.in_flight_since

            second = WorkerProcess("second", drill.emu.url, log_dir)
            workers.append(second)
            # The periodic reaper (in flight > 2 s here) hands the job back; the sweep re-sends what
            # the dead worker had taken from the broker.
            wait_for(lambda: timezone.now() - since > timedelta(seconds=3), timeout=10)
            app.send_task("procore_sync.in_flight_reap")
            PushJob.objects.filter(tenant=acme, state=JobState.PENDING).update(
                not_before=timezone.now() - timedelta(minutes=2)
            )
            app.send_task(SWEEP_TASK)
            try:
                wait_settled(timeout=60)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- second worker ---\n{second.log()}") from None
    finally:
        for worker in workers:
            worker.stop()
        celery_worker.consumer.add_task_queue(default_queue)
    drill.check(company)
    for job in stuck_jobs:  # every job of the dead worker's batch: interrupted, visibly, then pushed once
        codes = drill.codes(acme, job.record.qb_id)
        assert EventCode.PUSH_FAILED_TRANSIENT in codes and codes[-1] == EventCode.PUSH_SUCCEEDED, (
            job.pk,
            job.record.qb_id,
            codes,
            [(j.pk, j.record.qb_id) for j in stuck_jobs],
        )
    interrupted = drill.events(acme, EventCode.PUSH_FAILED_TRANSIENT)
    assert any("worker lost" in e.message for e in interrupted)
