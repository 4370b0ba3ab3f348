"""Celery tasks: thin interfaces that call one service each. The database is the queue."""

from __future__ import annotations

from celery import shared_task

from audit.logcontext import log_scope
from audit.outbox import outbox_dispatch
from procore_sync import services


# acks_late (set globally) so a worker killed mid-push leaves the message for another;
# the job row's state makes the redelivery harmless.
@shared_task(name="procore_sync.push_job_run", acks_late=True)
def push_job_run_task(job_id: int) -> str:
    with log_scope(job_id=job_id):  # every log line of this push names its job
        return services.push_job_run(job_id=int(job_id))


@shared_task(name="procore_sync.push_jobs_dispatch", acks_late=True)
def push_jobs_dispatch_task(job_ids: list[int]) -> int:
    return outbox_dispatch(job_ids=[int(j) for j in job_ids])


@shared_task(name="audit.outbox_sweep", acks_late=True)
def outbox_sweep_task() -> dict[str, int]:
    return services.outbox_sweep()


@shared_task(name="procore_sync.in_flight_reap", acks_late=True)
def in_flight_reap_task() -> int:
    return services.in_flight_reap()
