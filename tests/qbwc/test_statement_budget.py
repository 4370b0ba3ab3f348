"""Statements per SOAP call, counted as the database sees them (SQL, savepoints, BEGIN/COMMIT).

The Web Connector simulator plays the whole protocol; its POSTs go through Django's real
WSGI stack (middleware, SOAP view) in the test thread (tests/statements.py) so that each
call's statements can be captured. CaptureQueriesContext cross-checks the counter.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from peers.qbwc_simulator.client import WebConnector
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc.receive import BATCH_RECORDS
from tests.factories import PASSWORD, make_tenant
from tests.statements import InProcessHttp, count_statements

# Per-call budgets of a no-change session (four empty queries); the session target is 25.
BUDGET = {
    "sendRequestXML": [3, 1, 1, 1],  # the first negotiates and reads the marks once; the rest were built
    # Session read, then the mark's upsert and the guarded session update: one statement on
    # PostgreSQL (the upsert as a WITH query), two elsewhere.
    "receiveResponseXML": [3, 3, 3, 3],
    "closeConnection": [2],
    "authenticate": [5],  # 3 statements and their transaction (qbwc.login)
}
SESSION_TARGET = 25


def _connector(company: FakeCompany, username: str) -> tuple[WebConnector, InProcessHttp]:
    connector = WebConnector("/qbwc/", username, PASSWORD, company)
    http = InProcessHttp()
    connector.http = http  # type: ignore[assignment]
    return connector, http


@pytest.fixture
def synced(transactional_db: None, settings: Any) -> tuple[WebConnector, InProcessHttp]:
    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    tenant = make_tenant(slug="acme")
    connector, http = _connector(FakeCompany(build(bills=12, vendors=3, changes=False)), tenant.qbwc_username)
    assert connector.run().outcome == "done"
    http.reset()
    return connector, http


def test_a_no_change_session_stays_within_its_per_call_budgets(synced: tuple[WebConnector, InProcessHttp]) -> None:
    connector, http = synced
    result = connector.run()
    assert result.outcome == "done" and result.close_message.startswith("0 vendors, 0 bills, 0 deletions")
    totals = {method: [c.total for c in counts] for method, counts in http.per_method.items()}
    for method, budget in BUDGET.items():
        assert len(totals[method]) == len(budget), (method, totals[method])
        assert all(n <= b for n, b in zip(totals[method], budget, strict=True)), (method, totals[method], budget)
    assert totals["serverVersion"] == [0] and totals["clientVersion"] == [0]
    # No savepoint and no transaction anywhere but authenticate: every write is one guarded statement.
    for method, counts in http.per_method.items():
        if method != "authenticate":
            assert all(c.savepoints == 0 and c.transactions == 0 for c in counts), method
    assert sum(n for ns in totals.values() for n in ns) <= SESSION_TARGET, totals
    if connection.vendor == "postgresql":
        assert totals["receiveResponseXML"] == [2, 2, 2, 2], totals
        assert sum(n for ns in totals.values() for n in ns) == 21, totals


def test_the_counter_agrees_with_capture_queries_context(synced: tuple[WebConnector, InProcessHttp]) -> None:
    connector, _ = synced
    with CaptureQueriesContext(connection) as captured, count_statements() as counted:
        assert connector.run().outcome == "done"
    logged = [q["sql"].lstrip().upper() for q in captured.captured_queries]
    ends = [q for q in logged if q.startswith(("COMMIT", "ROLLBACK")) and not q.startswith("ROLLBACK TO")]
    statements = [q for q in logged if not q.startswith(("BEGIN", "COMMIT")) and q not in ends]
    assert counted.sql + counted.savepoints == len(statements)
    assert counted.transactions == len(ends)


def test_a_page_costs_the_same_statements_per_batch_whatever_its_size(transactional_db: None, settings: Any) -> None:
    """A page is stored BATCH_RECORDS records at a time (what the server holds of a page stays one
    batch: issue 11); each batch costs the same few statements, so a page of 20 records and one of
    600 cost the same per batch, nowhere near one per record."""
    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    per_page: dict[int, int] = {}
    for bills in (20, 600):
        settings.QBWC_MAX_RETURNED = bills
        tenant = make_tenant(slug=f"size-{bills}")
        connector, http = _connector(FakeCompany(build(bills=bills, vendors=2, changes=False)), tenant.qbwc_username)
        assert connector.run().outcome == "done"
        receives = http.per_method["receiveResponseXML"]
        per_page[bills] = receives[1].total  # the bills page
    # SQLite caps bound parameters per statement (999), so its bulk inserts come in batches;
    # PostgreSQL sends two statements per table (ids from the sequence, then one COPY:
    # audit/copy_insert.py). Either way: no statement per record. Each batch after the
    # first adds its lock read, inserts and outbox rows (7 statements on PostgreSQL).
    extra_batches = -(-600 // BATCH_RECORDS) - 1
    assert per_page[20] <= 16, per_page
    assert per_page[600] <= 16 + 8 * extra_batches + (40 if connection.vendor == "sqlite" else 0), per_page


def test_the_guarded_session_writes_send_only_the_columns_that_changed(
    synced: tuple[WebConnector, InProcessHttp],
) -> None:
    connector, _ = synced
    with CaptureQueriesContext(connection) as captured:
        assert connector.run().outcome == "done"
    marker = 'UPDATE "qbwc_qbwcsession"'  # on PostgreSQL after the mark's WITH query
    updates = [q["sql"].split(marker, 1)[1] for q in captured.captured_queries if marker in q["sql"]]
    answers = [sql for sql in updates if '"answered_seq" =' in sql.split(" WHERE ")[0]]
    assert len(answers) == 4, updates  # one per empty answer
    for sql in answers:
        assigned = sql.split(" WHERE ")[0]
        # Counters an empty answer leaves as they were are not sent again...
        for column in ("vendors_received", "bills_received", "deletions_received", "records_changed", "warnings"):
            assert f'"{column}" =' not in assigned, (column, sql)
        # ...what it moves is, and a JSON column always is (it may have changed in place).
        assert '"marks" =' in assigned and '"last_seen_at" =' in assigned
