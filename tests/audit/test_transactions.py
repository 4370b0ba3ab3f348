"""A transaction PostgreSQL aborts for a deadlock is run again whole; nothing else is retried."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from audit.transactions import is_retryable, retry_when_deadlocked
from tenants.models import Tenant
from tests.factories import make_tenant


def _deadlock() -> OperationalError:
    """What Django raises for SQLSTATE 40P01 (psycopg's error as the cause)."""
    exc = OperationalError("deadlock detected")
    exc.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return exc


@pytest.mark.django_db(transaction=True)
def test_two_transactions_locking_crosswise_both_finish(caplog: pytest.LogCaptureFixture) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a real deadlock needs PostgreSQL's row locks")
    one, two = make_tenant(slug="acme"), make_tenant(slug="globex")
    runs: Counter[str] = Counter()
    both_hold_one = threading.Barrier(2, timeout=20)
    errors: list[BaseException] = []

    @retry_when_deadlocked()
    def lock_crosswise(name: str, first: int, second: int) -> None:
        runs[name] += 1
        Tenant.objects.select_for_update().get(pk=first)
        if runs[name] == 1:
            both_hold_one.wait()  # each holds one row and now asks for the other's: a cycle
        Tenant.objects.select_for_update().get(pk=second)
        Tenant.objects.filter(pk=first).update(name=f"{name} finished")

    def side(name: str, first: int, second: int) -> None:
        try:
            lock_crosswise(name, first, second)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.WARNING, logger="audit.transactions"):
        threads = [
            threading.Thread(target=side, args=("a", one.pk, two.pk)),
            threading.Thread(target=side, args=("b", two.pk, one.pk)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    assert sorted(runs.values()) == [1, 2]  # PostgreSQL aborted one side once; its second run went through
    assert {Tenant.objects.get(pk=one.pk).name, Tenant.objects.get(pk=two.pk).name} == {"a finished", "b finished"}
    assert "40P01" in caplog.text and "running it again (2 of 4)" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_after_the_last_attempt_with_the_database_error() -> None:
    runs: list[int] = []

    @retry_when_deadlocked(attempts=3)
    def always_deadlocked() -> None:
        runs.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError, match="deadlock"):
        always_deadlocked()
    assert len(runs) == 3


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried() -> None:
    runs: list[int] = []

    @retry_when_deadlocked()
    def connection_lost() -> None:
        runs.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError, match="server closed"):
        connection_lost()
    assert len(runs) == 1
    assert not is_retryable(ValueError("x")) and is_retryable(_deadlock())


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_it_runs_once_and_leaves_the_retry_to_the_owner() -> None:
    runs: list[int] = []

    @retry_when_deadlocked()
    def deadlocked() -> Any:
        runs.append(1)
        raise _deadlock()

    with pytest.raises(OperationalError), transaction.atomic():
        deadlocked()
    assert len(runs) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retried_run_leaves_nothing_of_the_aborted_one() -> None:
    tenant = make_tenant(slug="acme")
    runs: list[int] = []

    @retry_when_deadlocked()
    def rename_then_abort_once() -> None:
        runs.append(1)
        Tenant.objects.filter(pk=tenant.pk).update(name=f"run {len(runs)}")
        if len(runs) == 1:
            raise _deadlock()

    rename_then_abort_once()
    assert Tenant.objects.get(pk=tenant.pk).name == "run 2" and len(runs) == 2
