"""Django's PostgreSQL backend, except how a persistent connection is checked (issue 11).

With CONN_HEALTH_CHECKS, Django checks a reused connection before the first query of
every request by sending `SELECT 1` and waiting for the answer. A QBWC session makes ten
such requests, so that is ten round trips of its own: in a profile of the web server under
a fleet of polling Web Connectors (bench/bench_scale.py, py-spy on one worker) `is_usable`
held 22 % of the worker's time, more than any of the session's own statements.

A connection PostgreSQL has given up on says so on its socket: a server restart,
failover, `idle_session_timeout` or `pg_terminate_backend` sends an error message and
closes the socket, a proxy closing it sends FIN or RST. Between requests the connection
is idle (autocommit, no query in flight), so nothing else is ever waiting to be read on
it. The check therefore asks the kernel, without blocking, whether the socket has
anything to read: nothing means the connection is as it was left and is used as it is;
anything (an error, EOF, a stray TLS record) means Django's own `SELECT 1` decides, which
consumes what is there and fails exactly when the connection is gone. Same outcomes as
before, minus the round trip on a healthy connection; a peer that vanished without a
word is caught by neither check before the query's own timeout, as before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return bool(super().is_usable())  # not between requests: let Django ask the server
        try:
            poller = select.poll()  # poll, not select: file descriptors above 1023 are fine
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            waiting = bool(poller.poll(0))
        except (OSError, ValueError):
            return False
        return not waiting or bool(super().is_usable())
