"""Counting the statements a SOAP call sends to the database, as the database sees them.

Used by the statement-budget tests and by bench/bench_qbwc.py. An execute wrapper sees
SQL and savepoints (what CaptureQueriesContext sees, without keeping the text); a
transaction's BEGIN (implicit in psycopg, explicit on SQLite) and its COMMIT/ROLLBACK are
counted from the connection's commit/rollback calls, so the totals are the same on both
databases. Django's `CONN_HEALTH_CHECKS` `SELECT 1` goes
straight to the driver and is not counted here (it is one per request that touches the
database; the bench reports it separately).

`InProcessHttp` carries the Web Connector simulator's POSTs through Django's real WSGI
stack (middleware, the SOAP view) in this thread instead of a socket, so the statements
each call causes can be captured on this thread's connection.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client


@dataclass
class Count:
    sql: int = 0
    savepoints: int = 0
    transactions: int = 0  # each is a BEGIN and a COMMIT (or ROLLBACK)

    @property
    def total(self) -> int:
        return self.sql + self.savepoints + 2 * self.transactions

    def add(self, other: Count) -> None:
        self.sql += other.sql
        self.savepoints += other.savepoints
        self.transactions += other.transactions


@contextmanager
def count_statements() -> Iterator[Count]:
    """Count what this thread's default connection sends inside the block (nothing is stored,
    so a 10 000-row page costs no memory here)."""
    count = Count()
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's connection object, not the proxy
    saved = {name: vars(wrapper)[name] for name in ("commit", "rollback") if name in vars(wrapper)}
    real_commit, real_rollback = wrapper.commit, wrapper.rollback

    def commit() -> None:
        count.transactions += 1
        real_commit()

    def rollback() -> None:
        count.transactions += 1
        real_rollback()

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        head = sql.lstrip()[:22].upper()
        if head.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            count.savepoints += 1
        elif not head.startswith("BEGIN"):  # SQLite's explicit BEGIN: counted with its COMMIT
            count.sql += 1
        return execute(sql, params, many, context)

    wrapper.commit, wrapper.rollback = commit, rollback  # type: ignore[method-assign]
    try:
        with wrapper.execute_wrapper(counted):
            yield count
    finally:
        for name in ("commit", "rollback"):  # an outer counter's hooks, or the class's methods again
            if name in saved:
                setattr(wrapper, name, saved[name])
            else:
                delattr(wrapper, name)


@dataclass
class _Response:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass
class InProcessHttp:
    """A `requests.Session` stand-in for the simulator: each POST runs through Django's WSGI
    handler in this thread, its statements counted per SOAP method."""

    client: Client = field(default_factory=lambda: Client(HTTP_HOST="127.0.0.1"))
    per_method: dict[str, list[Count]] = field(default_factory=lambda: defaultdict(list))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # this process's CPU per method

    def post(self, url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> _Response:
        method = headers["SOAPAction"].strip('"').rsplit("/", 1)[-1]
        start, cpu = time.perf_counter(), time.process_time()
        with count_statements() as count:
            response = self.client.post(
                url, data=data, content_type=headers["Content-Type"], HTTP_SOAPACTION=headers["SOAPAction"]
            )
        self.seconds[method] += time.perf_counter() - start
        self.cpu[method] += time.process_time() - cpu
        self.per_method[method].append(count)
        return _Response(response.status_code, response.content)

    def close(self) -> None:
        pass

    def total(self) -> Count:
        out = Count()
        for counts in self.per_method.values():
            for c in counts:
                out.add(c)
        return out

    def reset(self) -> None:
        self.per_method.clear()
        self.seconds.clear()
        self.cpu.clear()


def summary(http: InProcessHttp) -> dict[str, Any]:
    """{method: [totals per call]} plus the grand total, for assertions and printing."""
    return {m: [c.total for c in counts] for m, counts in http.per_method.items()} | {"total": http.total().total}
