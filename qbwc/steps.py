"""The session plan's mechanics: where a step starts, storing its records, moving its mark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from audit.compiled_sql import column_field, fetch_rows
from audit.qbtypes import QbDeletion, QbVendor
from audit.services import records_mark_deleted, records_store
from qbwc import qbxml
from qbwc.models import PLAN, QbwcSession, Step, Watermark


def _marks_sql(qn: Callable[[str], str]) -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any] | None]]:
    out = [column_field(Watermark, name) for name in ("query", "mark", "qb_utc_offset_minutes", "updated_at")]
    tenant, updated = column_field(Watermark, "tenant"), column_field(Watermark, "updated_at")
    columns = ", ".join(qn(str(f.column)) for f in out)
    # Table and column names come from the model; the tenant is a bound parameter.
    sql = (
        f"SELECT {columns} FROM {qn(Watermark._meta.db_table)} "  # noqa: S608
        f"WHERE {qn(str(tenant.column))} = %s ORDER BY {qn(str(updated.column))}"
    )
    return sql, [tenant], list(out)


def marks_snapshot(tenant_id: int) -> dict[str, object]:
    """Every query's mark and UTC offset for a session, in one read (taken at its first request).

    A step that has returned nothing yet has no offset of its own: the company file's clock
    is the same for every query, so it borrows the one most recently learned ("_offset").
    The read's SQL is built once (audit/compiled_sql.py): compiling the queryset was most of
    its cost, and every session's first sendRequestXML makes it.
    """
    rows = fetch_rows(_marks_sql, [tenant_id])
    snapshot: dict[str, object] = {query: [mark.isoformat(), offset] for query, mark, offset, _ in rows}
    learned = [offset for _, _, offset, _ in rows if offset is not None]
    snapshot["_offset"] = learned[-1] if learned else None
    return snapshot


def since_for(session: QbwcSession, step: str) -> tuple[datetime | None, int | None]:
    """Where a step's query starts: its mark minus the safety window (None on a first run),
    and the UTC offset QuickBooks' own timestamps carried. Reads the session's snapshot."""
    entry = session.marks.get(step)
    if not isinstance(entry, list):
        return None, None
    mark, offset = datetime.fromisoformat(entry[0]), entry[1]
    if offset is None:
        offset = session.marks.get("_offset")
    window = timedelta(minutes=settings.QBWC_SAFETY_WINDOW_MINUTES)
    return mark - window, offset  # type: ignore[return-value]


Statement = tuple[str, list[Any]]


def _mark_upsert(session: QbwcSession, *, mark: datetime, offset: int | None) -> Statement:
    """One query's mark moved in a single INSERT … ON CONFLICT statement (PostgreSQL and SQLite
    alike), and in the session's snapshot of the marks; the statement is returned, not run.

    No read first and no savepoint: the unique (tenant, query) constraint decides insert or
    update, and the offset is kept when this step learned none.
    """
    table = Watermark._meta.db_table
    keep_offset = "" if offset is None else ", qb_utc_offset_minutes = excluded.qb_utc_offset_minutes"
    now = timezone.now()
    # Table and column names come from the model; every value is a bound parameter.
    sql = (
        f"INSERT INTO {table} (tenant_id, query, mark, qb_utc_offset_minutes, session_id, updated_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, query) DO UPDATE SET "
        f"mark = excluded.mark, session_id = excluded.session_id, updated_at = excluded.updated_at{keep_offset}"
    )
    params = [
        session.tenant_id, session.step, connection.ops.adapt_datetimefield_value(mark), offset,
        session.pk, connection.ops.adapt_datetimefield_value(now),
    ]  # fmt: skip
    session.marks = {**session.marks, session.step: [mark.isoformat(), offset]}
    if offset is not None:
        session.marks["_offset"] = offset
    return sql, params


def run_statement(statement: Statement) -> None:
    with connection.cursor() as cursor:
        cursor.execute(*statement)


def progress_of(session: QbwcSession) -> int:
    """1..99 while the plan runs (steps weigh the same; pages by iterator count), 100 when done."""
    if session.step == Step.DONE:
        return 100
    index = PLAN.index(session.step)
    fraction = 0.0
    if session.iterator_remaining:
        fraction = session.step_records / (session.step_records + session.iterator_remaining)
    return max(1, min(99, int((index + fraction) * 100 / len(PLAN))))


def store_records(session: QbwcSession, records: tuple[qbxml.Record, ...], *, triggers: list[int]) -> None:
    """Store a batch of a page's records in bulk (audit event + outbox row each), counting what
    changed. Runs in the caller's transaction; the outbox jobs to trigger are added to `triggers`."""
    tenant = session.tenant
    deletions = [rec for rec in records if isinstance(rec, QbDeletion)]
    others = [rec for rec in records if not isinstance(rec, QbDeletion)]
    changed = 0
    if deletions:
        changed += sum(
            c
            for _, c in records_mark_deleted(
                tenant=tenant, deletions=deletions, session_id=session.pk, triggers=triggers
            )
        )
        session.deletions_received += len(deletions)
    if others:
        changed += sum(
            c for _, c in records_store(tenant=tenant, objs=others, session_id=session.pk, triggers=triggers)
        )
        vendors = sum(1 for rec in others if isinstance(rec, QbVendor))
        session.vendors_received += vendors
        session.bills_received += len(others) - vendors
    session.records_changed += changed


def qb_offset(records: tuple[qbxml.Record, ...]) -> int | None:
    for rec in records:
        stamp = rec.time_deleted if isinstance(rec, QbDeletion) else rec.time_modified
        if stamp is not None and stamp.utcoffset() is not None:
            return int(stamp.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    return None


def finish_step(
    session: QbwcSession, *, advance_mark: bool, offset: int | None, deferred: list[Statement] | None = None
) -> None:
    """Go to the next step. With advance_mark (the whole step is stored) its mark moves to
    when the step's first query was built: anything changed after that is read next run.
    That is our clock, not QuickBooks'; the safety window covers the skew between them.

    The mark's statement runs now, or is added to `deferred` for the caller to run with the
    session's own write (session_state.save_guarded)."""
    if advance_mark and session.step_started_at is not None:
        upsert = _mark_upsert(session, mark=session.step_started_at, offset=offset)
        if deferred is None:
            run_statement(upsert)
        else:
            deferred.append(upsert)
    index = PLAN.index(session.step)
    session.step = PLAN[index + 1] if index + 1 < len(PLAN) else Step.DONE
    session.step_started_at = None
    session.iterator_id = ""
    session.iterator_remaining = None
    session.step_records = 0
    session.iterator_restarts = 0


def step_error(session: QbwcSession, text: str, *, severity: str) -> None:
    session.step_errors = [*session.step_errors, {"step": session.step, "severity": severity, "text": text}]
