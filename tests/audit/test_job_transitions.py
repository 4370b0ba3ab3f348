"""The push job state machine: one guarded setter (audit.services.job_set_state) over JOB_TRANSITIONS."""

from __future__ import annotations

import pytest

from audit.models import JOB_TRANSITIONS, JobReason, JobState, PushJob
from audit.services import IllegalTransition, job_set_state
from procore_sync.services.outbox_runner import _OUTCOMES
from tests.builders import bill, sync, vendor
from tests.conftest import Cast

# Every move the pusher, the sweep and the outbox make (single rows through the setter, bulk
# updates filtered on the state moved from). The drills and tests/procore_sync run them for
# real; the autouse check in tests/conftest.py fails a test in which the runner's setter refused one.
MOVES = {
    (JobState.PENDING, JobState.IN_FLIGHT),  # claim (bulk)
    (JobState.PENDING, JobState.WAITING),  # claim of a paused or inactive tenant's job
    (JobState.IN_FLIGHT, JobState.DONE),
    (JobState.IN_FLIGHT, JobState.PENDING),  # retry, rate limit, unblocked meanwhile, reaped
    (JobState.IN_FLIGHT, JobState.WAITING),  # needs a vendor, mapping, reconnect, a person in Procore
    (JobState.IN_FLIGHT, JobState.FAILED),
    (JobState.IN_FLIGHT, JobState.CANCELLED),  # reaped while a newer job is queued
    (JobState.PENDING, JobState.CANCELLED),  # superseded (finish, or bulk on enqueue of a deletion)
    (JobState.WAITING, JobState.CANCELLED),
    (JobState.WAITING, JobState.PENDING),  # re-armed (bulk)
    (JobState.PENDING, JobState.PENDING),  # a newer QuickBooks version re-arms the queued job (bulk)
}


def test_every_move_the_pusher_makes_is_in_the_table() -> None:
    assert {(a, b) for a, b in MOVES if b not in JOB_TRANSITIONS[a]} == set()
    assert JOB_TRANSITIONS[JobState.DONE] == set() and JOB_TRANSITIONS[JobState.CANCELLED] == set()


@pytest.mark.django_db
def test_an_illegal_move_raises_and_writes_nothing(cast: Cast) -> None:
    record = bill(cast.acme, vendor(cast.acme, "Blue Ridge Electric"), "INV-1")
    sync(record)
    job = PushJob.objects.get(record=record)
    assert job.state == JobState.DONE
    with pytest.raises(IllegalTransition, match="done → pending is not allowed"):
        job_set_state(job, state=JobState.PENDING, reason=JobReason.NONE)
    job.refresh_from_db()
    assert job.state == JobState.DONE
    # A same-state move that changes something needs the table too (done → done is not in it).
    with pytest.raises(IllegalTransition):
        job_set_state(job, state=JobState.DONE, reason=JobReason.TRANSIENT)


@pytest.mark.django_db
def test_no_change_returns_early_and_a_legal_move_is_saved(cast: Cast) -> None:
    record = vendor(cast.acme, "Blue Ridge Electric")
    job = PushJob.objects.get(record=record)
    updated = job.updated_at
    assert job_set_state(job, state=JobState.PENDING, reason=JobReason.NONE) is False
    job.refresh_from_db()
    assert job.updated_at == updated
    assert job_set_state(job, state=JobState.IN_FLIGHT, reason=JobReason.NONE, attempts=1) is True
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.IN_FLIGHT, 1)
    with pytest.raises(TypeError):
        job_set_state(job, state=JobState.DONE, op="bill_delete")


def test_every_outcome_of_a_run_is_a_move_from_in_flight_the_table_allows() -> None:
    assert {
        name for name, rule in _OUTCOMES.items() if rule.job_state not in JOB_TRANSITIONS[JobState.IN_FLIGHT]
    } == set()
