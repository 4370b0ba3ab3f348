"""records_replay / records_replay_failed: new attempts, audited, per tenant, never edits history."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from audit.models import EventCode, JobState, PushJob, PushOp, SyncEvent
from audit.services import records_replay, records_replay_failed
from tests import builders
from tests.conftest import Cast


def test_replay_adds_an_event_and_one_pending_job(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    record = builders.fail(builders.bill(cast.acme, v, "INV-1"))
    before = list(SyncEvent.objects.filter(record=record).values_list("pk", "code"))
    assert records_replay(records=[record], acting_user_id=cast.alice.pk) == 1
    assert records_replay(records=[record], acting_user_id=cast.alice.pk) == 1  # coalesces
    after = list(SyncEvent.objects.filter(record=record).values_list("pk", "code"))
    assert after[: len(before)] == before  # history untouched, only appended
    assert [c for _, c in after[len(before) :]] == [EventCode.REPLAY_REQUESTED] * 2
    jobs = PushJob.objects.filter(record=record, state=JobState.PENDING)
    assert [j.op for j in jobs] == [PushOp.BILL_UPSERT]


def test_replay_of_a_record_deleted_in_quickbooks_replays_the_deletion(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    record = builders.bill(cast.acme, v, "INV-1")
    record.deleted_in_qb = True
    record.save()
    records_replay(records=[record], acting_user_id=None)
    assert PushJob.objects.filter(record=record, op=PushOp.BILL_DELETE, state=JobState.PENDING).exists()


def test_replay_failed_touches_only_that_tenants_failed_records(cast: Cast) -> None:
    av = builders.vendor(cast.acme, "Acme Concrete")
    failed = builders.fail(builders.bill(cast.acme, av, "A-1"))
    synced = builders.sync(builders.bill(cast.acme, av, "A-2"))
    gv = builders.vendor(cast.globex, "Globex Steel")
    other = builders.fail(builders.bill(cast.globex, gv, "G-1"))
    assert records_replay_failed(tenant=cast.acme, acting_user_id=cast.sam.pk) == 1
    replayed = set(SyncEvent.objects.filter(code=EventCode.REPLAY_REQUESTED).values_list("record_id", flat=True))
    assert replayed == {failed.pk}
    assert synced.pk not in replayed and other.pk not in replayed


def test_command_replays_one_record(cast: Cast, capsys: pytest.CaptureFixture[str]) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    record = builders.fail(builders.bill(cast.acme, v, "INV-9"))
    call_command("audit", "replay", "--record", str(record.pk))
    assert f"replay queued for record {record.pk}" in capsys.readouterr().out
    assert SyncEvent.objects.filter(record=record, code=EventCode.REPLAY_REQUESTED, acting_user=None).exists()


def test_command_replays_every_failed_record_of_a_tenant(cast: Cast, capsys: pytest.CaptureFixture[str]) -> None:
    v = builders.vendor(cast.globex, "Globex Steel")
    builders.fail(builders.bill(cast.globex, v, "G-1"))
    builders.fail(builders.bill(cast.globex, v, "G-2"))
    call_command("audit", "replay", "--tenant", "globex", "--failed")
    assert "replay queued for 2 failed record(s) of globex" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record", "999999"], "no sync record with id '999999'"),
        (["--record", "abc"], "no sync record with id 'abc'"),
        (["--tenant", "nope", "--failed"], "no tenant with slug 'nope'"),
        (["--tenant", "acme"], "--tenant needs --failed"),
    ],
)
def test_command_errors_are_one_clear_line(cast: Cast, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("audit", "replay", *args)
