"""What the session operations share: building the next request, touching, guarded writes, failing a session."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings

from audit.compiled_sql import mark_loaded, unchanged_since_load, update_where
from audit.metrics import qbwc_session_ended
from qbwc import qbxml
from qbwc.logtext import printable
from qbwc.models import QbwcSession, SessionState
from qbwc.steps import Statement, marks_snapshot, since_for

log = logging.getLogger(__name__)


def small_int(text: str) -> int | None:
    """A short run of ASCII digits as an int, else None (str.isdigit() also accepts '²', which int() refuses)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def build_next(session: QbwcSession, now: datetime) -> None:
    """Build the request for the session's current step (or its next iterator page) now, so the
    sendRequestXML that asks for it is one read. The step's mark will be this moment."""
    step = session.step
    if session.step_started_at is None:
        session.step_started_at = now
    ensure_marks(session)
    since, offset = since_for(session, step)
    session.request_seq += 1
    session.pending_request = qbxml.build_query(
        step,  # type: ignore[arg-type]
        request_id=str(session.request_seq),
        version=session.qbxml_version,
        since=since,
        max_returned=settings.QBWC_MAX_RETURNED,
        iterator_id=session.iterator_id,
        offset_minutes=offset,
    )


def ensure_marks(session: QbwcSession) -> None:
    """Read the marks into the session once: at its first request, or when a session opened
    before the snapshot existed (a deploy mid-run) first moves. A real snapshot is never
    empty: it always holds "_offset"."""
    if not session.marks:
        session.marks = marks_snapshot(session.tenant_id)


# A session seen this recently is not written just to say so (the TTL is minutes).
_TOUCH_AFTER = timedelta(seconds=30)


def touch(session: QbwcSession, now: datetime) -> None:
    if now - session.last_seen_at >= _TOUCH_AFTER:
        session.last_seen_at = now
        update_where(QbwcSession, values={"last_seen_at": now}, where={"id": session.pk})


def save_guarded(
    session: QbwcSession, seen: tuple[int, int], fields: list[str], *, before: list[Statement] | None = None
) -> bool:
    """Write `fields` if the session still has the (request_seq, answered_seq) we read: a
    concurrent duplicate call then loses instead of overwriting. One UPDATE.

    Of `fields`, only those changed since the session was read are sent: an empty answer
    changes about half of receiveResponseXML's 22, and each value costs its preparation and
    quoting (a tenth of a no-change session's web-server CPU went to this UPDATE; issue 11).
    Leaving an unchanged column out writes the same row: whoever else writes the session
    (closing, failing, revoking it, or another call of this session) changes its state or its
    sequence numbers, which the guard reads, except touch(), whose last_seen_at every guarded
    write sets anyway.

    `before` (a moved mark's upsert, steps.finish_step) runs whatever the guard finds, as it
    did as a statement of its own: on PostgreSQL in the same statement (audit.compiled_sql
    update_where), four statements fewer per no-change session.
    """
    request_seq, answered_seq = seen
    names = list(dict.fromkeys(fields))
    unchanged = unchanged_since_load(session, names)
    # At least one column, so that the guard is still asked when nothing changed.
    values = {name: getattr(session, name) for name in names if name not in unchanged} or {
        names[0]: getattr(session, names[0])
    }
    # SQL built once per column set (audit/compiled_sql.py): a handful of shapes in all.
    where = {"id": session.pk, "state": SessionState.OPEN, "request_seq": request_seq, "answered_seq": answered_seq}
    if not update_where(QbwcSession, values=values, where=where, before=before or ()):
        return False
    mark_loaded(session, values)
    return True


_FAIL_FIELDS = ["state", "last_error", "hresult", "progress", "finished_at", "pending_request", "last_seen_at"]


def fail(session: QbwcSession, now: datetime, error: str, *, hresult: str = "", extra: list[str] | None = None) -> int:
    session.state = SessionState.FAILED
    session.last_error = error
    session.hresult = hresult[:20]
    session.progress = -1
    session.finished_at = now
    session.pending_request = ""
    session.last_seen_at = now
    session.save(update_fields=list(dict.fromkeys([*_FAIL_FIELDS, *(extra or [])])))
    qbwc_session_ended(outcome="failed")
    log.warning("qbwc session %s failed: %s", session.pk, printable(error, limit=500))
    return -1
