"""Whole transactions run again when PostgreSQL aborts them for a deadlock or a serialisation failure.

PostgreSQL breaks a deadlock by aborting one of the transactions in it (manual, 13.3.4
"Deadlocks"), and its manual advises retrying those (SQLSTATE 40P01) as well as
serialization failures (40001): 13.5 "Serialization Failure Handling" (PostgreSQL 15+).
The work was rolled back whole, so running it again is safe, and it usually succeeds
because the other transaction has finished meanwhile. Our units of work (claiming a
batch, writing a push outcome, storing a QuickBooks page, re-arming waiting jobs) lock
job and record rows that other units lock too; their lock order is kept consistent where
it can be (rows by primary key), and this is the net under what ordering cannot rule out.

Only the outermost transaction can be retried: inside someone else's atomic block the
error goes to that block's owner, which retries (or not) as a whole.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATE codes (PostgreSQL Appendix A): deadlock_detected, serialization_failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_retryable(exc: BaseException) -> bool:
    """Did the database abort the transaction for a deadlock or a serialisation failure?"""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else None
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def retry_when_deadlocked(*, attempts: int = 4) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function in its own transaction, again (up to `attempts` in all) if aborted.

    The function must be safe to run again after a rollback: everything it wrote is gone,
    and side effects outside the database go through transaction.on_commit (dropped on
    rollback too). Called inside an outer atomic block it runs once, unwrapped.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if connection.in_atomic_block:
                return fn(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    with transaction.atomic():
                        return fn(*args, **kwargs)
                except OperationalError as exc:
                    if attempt == attempts or not is_retryable(exc):
                        raise
                    sqlstate = getattr(exc.__cause__, "sqlstate", "")
                    log.warning(
                        "%s: transaction aborted by the database (%s), running it again (%d of %d)",
                        fn.__qualname__,
                        sqlstate,
                        attempt + 1,
                        attempts,
                    )
                    # Jittered, growing pause so the two sides do not collide again in step.
                    time.sleep(random.uniform(0.01, 0.05) * attempt)
            raise AssertionError("unreachable")  # the loop returns or raises

        return run

    return decorate


__all__ = ["RETRYABLE_SQLSTATES", "is_retryable", "retry_when_deadlocked"]
