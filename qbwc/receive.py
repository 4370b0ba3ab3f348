"""receiveResponseXML: storing one qbXML answer and moving the session on (or refusing it)."""

from __future__ import annotations

import hashlib
from contextlib import closing
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.copy_insert import copy_insert_streaming
from audit.metrics import qbwc_session_ended
from audit.outbox import outbox_trigger_many
from audit.transactions import retry_when_deadlocked
from qbwc import qbxml
from qbwc.answer_limits import answer_refusal
from qbwc.models import QbwcSession, RawResponse, SessionState, Step
from qbwc.read_ahead import read_ahead
from qbwc.session_state import build_next, ensure_marks, fail, save_guarded, small_int, touch
from qbwc.steps import Statement, finish_step, progress_of, qb_offset, step_error, store_records
from qbwc.tickets import session_for

# How many times a step may restart after QuickBooks lost its iterator, per session.
MAX_ITERATOR_RESTARTS = 2

# Records parsed and stored at a time within a page's one transaction: what the server holds of
# a page beyond its text (records, rows) is two batches, whatever the page's size (the one being
# stored and the next one, read ahead on a worker thread: qbwc/read_ahead.py); each batch costs
# the same five statements (lock read, keys, three COPYs; bench/bench_qbwc.py section 4).
# A batch is ~3.5 KB a record at its peak (the parsed bills, their rows, psycopg's buffers),
# once the batch before it is let go (see _store_page) and repeated text is held once
# (qbxml._shared). Measured on PostgreSQL, 4 000 bills in pages of 500 (a 0.66 MB answer),
# the server's peak RSS growth, largest of 3 runs, two sittings each, read in line: 250 a
# batch +2.1 MB (3.1-3.2x the answer), 200 +1.9-2.2 MB, 150 +2.0 MB, 100 +1.8-1.9 MB
# (2.8-3.0x). Read ahead, largest of 5 runs: 100 +1.9-2.0 MB, 80 +2.0 MB, 64 +2.0 MB, 50
# +1.7-1.9 MB, within the runs' spread of each other, while 50 a batch lost the read-ahead's
# gain to its doubled statements (medians 22-25 % of the same-tables COPY floor, against
# 24-29 % at 100). What stays whatever the batch is the answer itself and ~1 MB of buffers
# (libpq's, expat's, the allocator's).
BATCH_RECORDS = 100


# What receiveResponseXML may change on the session (written with update_fields, never all ~30 columns).
_RECEIVE_FIELDS = [
    "answered_seq", "pending_request", "request_seq", "iterator_restarts", "iterator_id", "iterator_remaining",
    "step_records", "step_errors", "last_error", "step", "step_started_at", "warnings", "vendors_received",
    "bills_received", "deletions_received", "records_changed", "progress", "state", "finished_at", "marks",
    "last_seen_at", "answered_sha256",
]  # fmt: skip


def _is_empty_answer(head: qbxml.ResponseHead) -> bool:
    """Status 1 ("A query request did not find a matching object", qbXML SDK status codes): nothing to store."""
    return head.status_code == "1" and not head.has_records and not head.iterator_remaining and not head.is_error


def _is_failure(head: qbxml.ResponseHead) -> bool:
    """QuickBooks answered with an error: the page's records (if any) are not stored."""
    return head.is_error or int(head.status_code) >= 3000


def _sha256(answer: bytes) -> str:
    """sha256 of the answer's UTF-8 (as before the answer was kept as bytes: the same digest)."""
    return hashlib.sha256(answer).hexdigest()


def _read_through(reader: qbxml.ResponseReader) -> None:
    """Read the rest of the answer, storing nothing; raises QbxmlError if any of it is bad."""
    for batch in reader.batches(BATCH_RECORDS):
        del batch  # (a loop variable would hold it while the next one is read)


def session_receive_response(*, ticket: str, response: bytes, hresult: str, message: str) -> int:
    """Store one qbXML response; answer progress 0..100, or -1 (see getLastError).

    `response` is the answer's UTF-8 (soap.SoapCall.response): the digest, the record count,
    the qbXML parse and the raw response's COPY all read those bytes as they are, and the
    server holds the answer once, at its size in bytes.

    A page with records is one transaction: records, audit events, outbox rows, the raw
    response and the session's step/iterator/mark move together or not at all. It is read
    and stored a batch of records at a time inside that transaction; a bad record or broken
    XML anywhere in it rolls back every batch already written. An empty status-1 answer
    stores no raw response and needs no transaction: its mark's upsert (the step is wholly
    stored: it had nothing) and the session's guarded UPDATE are one statement on PostgreSQL
    (the upsert as a WITH query, run whatever the guard finds). Elsewhere they are two, and a
    crash between them leaves a mark that is right and a response QBWC resends.
    """
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is None or session.state in (SessionState.EXPIRED, SessionState.CLOSED):
        return -1
    if session.state == SessionState.DONE:
        return 100
    if session.state == SessionState.FAILED:
        return -1
    seq = session.request_seq
    if seq == session.answered_seq:
        # A QBWC retry of a response already stored: store nothing twice.
        touch(session, now)
        return session.progress
    sha256 = _sha256(response)
    if session.answered_seq and sha256 == session.answered_sha256:
        # The previous answer again, after we built the next request from it: QBWC retried.
        touch(session, now)
        return session.progress
    step = session.step
    if hresult.strip() or not response or response.isspace():  # (strip() could copy the page)
        return fail(
            session,
            now,
            f"QuickBooks could not process our {Step(step).label.lower()} request: "
            f"{message.strip() or 'no response'} ({hresult.strip() or 'no HRESULT'})",
            hresult=hresult.strip(),
        )
    refusal = answer_refusal(
        response, step=step, max_chars=settings.QBWC_MAX_RESPONSE_BYTES, max_records=settings.QBWC_MAX_RETURNED
    )
    if refusal:
        return fail(
            session, now, f"QuickBooks' {Step(step).label.lower()} answer was refused: {refusal}. Nothing was stored."
        )
    unreadable = f"QuickBooks sent a {Step(step).label.lower()} response we cannot read"
    try:
        reader = qbxml.ResponseReader(response, step, max_bytes=settings.QBWC_MAX_BODY_BYTES)  # type: ignore[arg-type]
        head = reader.head()
        other_request = bool(head.request_id) and head.request_id != str(seq)
        if other_request or _is_empty_answer(head):
            _read_through(reader)  # decided without storing: the whole answer must be readable first
    except qbxml.QbxmlError as exc:
        return fail(session, now, f"{unreadable}: {exc}")
    if other_request:
        answered = small_int(head.request_id)
        if answered is not None and answered <= session.answered_seq:
            # The answer to an earlier request, again (the next request is already built).
            touch(session, now)
            return session.progress
        return fail(session, now, f"QuickBooks answered request {head.request_id}, we asked {seq}")

    if _is_empty_answer(head):
        seen = (session.request_seq, session.answered_seq)
        mark: list[Statement] = []  # the step's mark moves with the session's write
        _advance(session, head, now, sha256=sha256, records=0, offset=None, deferred=mark)
        if not save_guarded(session, seen, _RECEIVE_FIELDS, before=mark):
            again = session_for(ticket, now=now, lock=False)  # a concurrent duplicate won
            return again.progress if again is not None else -1
        if session.state == SessionState.DONE:
            qbwc_session_ended(outcome="done")
        return session.progress

    try:
        stored = _store_page(ticket=ticket, now=now, seq=seq, answered_seq=session.answered_seq, sha256=sha256,
                             response=response, unread=[reader])  # fmt: skip
    except qbxml.QbxmlError as exc:  # the page's transaction was rolled back: nothing of it is stored
        return fail(session, now, f"{unreadable}: {exc}")
    if isinstance(stored, int):
        return stored
    session = stored
    if session.state == SessionState.DONE:
        qbwc_session_ended(outcome="done")
    return session.progress


@retry_when_deadlocked()
def _store_page(
    *, ticket: str, now: datetime, seq: int, answered_seq: int, sha256: str, response: bytes,
    unread: list[qbxml.ResponseReader],
) -> QbwcSession | int:  # fmt: skip
    """The page's one transaction (run again whole if PostgreSQL aborts it for a deadlock).

    Reads the answer a batch at a time, storing each batch as it comes; raises QbxmlError
    (rolling back every batch) when the answer turns out bad. Returns the session as stored,
    or the progress to answer when another call got there first. `unread`: the reader whose
    head the caller read, taken by the first run (a run again reads the answer afresh).
    """
    locked = session_for(ticket, now=now, lock=True)
    if locked is None or (locked.state, locked.request_seq, locked.answered_seq) != (
        SessionState.OPEN,
        seq,
        answered_seq,
    ):
        return locked.progress if locked is not None and locked.state == SessionState.OPEN else -1
    session = locked
    # The caller's reader has read only the head (and the first slice's records): reading on
    # from it saves checking and parsing that again, 2.9 ms of a 500-bill page (in-process).
    if unread:
        reader = unread.pop()
    else:
        reader = qbxml.ResponseReader(response, session.step, max_bytes=settings.QBWC_MAX_BODY_BYTES)  # type: ignore[arg-type]
    head = reader.head()
    offset: int | None = None
    triggers: list[int] = []
    if _is_failure(head):
        _read_through(reader)  # its records are not stored, but a broken answer still fails the session
    else:
        # The next batch is parsed on a worker thread while this one is stored (qbwc/read_ahead.py);
        # closed on the way out, so an error while storing ends the worker before the rollback.
        with closing(read_ahead(reader.batches(BATCH_RECORDS))) as batches:
            for batch in batches:
                store_records(session, batch, triggers=triggers)
                if offset is None:
                    offset = qb_offset(batch)
                # Dropped before the next batch is taken (the loop variable would hold it until
                # then: with the one read ahead, three batches at once).
                del batch
    if triggers:  # one broker message for the whole page, once it is committed
        transaction.on_commit(lambda: outbox_trigger_many(job_ids=triggers))
    copy_insert_streaming(
        RawResponse(
            tenant_id=session.tenant_id,
            session=session,
            request_seq=seq,
            step=session.step,
            status_code=head.status_code,
            status_message=head.status_message[:2000],
            records=reader.records,
            sha256=sha256,
            body=response,  # type: ignore[misc]  # UTF-8, streamed as it is (copy_insert_streaming)
        ),
        text_field="body",
    )
    _advance(session, head, now, sha256=sha256, records=reader.records, offset=offset)
    session.save(update_fields=_RECEIVE_FIELDS)
    return session


def _advance(
    session: QbwcSession, head: qbxml.ResponseHead, now: datetime, *, sha256: str, records: int, offset: int | None,
    deferred: list[Statement] | None = None,
) -> None:  # fmt: skip
    """Apply one answer to the session, its `records` already stored (their first UTC `offset`):
    move the step/iterator/mark, and build the next request (see build_next)."""
    ensure_marks(session)
    session.last_seen_at = now
    session.answered_seq = session.request_seq
    session.answered_sha256 = sha256
    session.pending_request = ""
    step = session.step
    qb_text = f"QuickBooks status {head.status_code}: {head.status_message}"
    if _is_failure(head):
        if session.iterator_id and session.iterator_restarts < MAX_ITERATOR_RESTARTS:
            # A Continue failed: the iterator expired or QuickBooks forgot it. Start the
            # step over; storage is idempotent so re-reading costs only time.
            session.iterator_restarts += 1
            session.iterator_id = ""
            session.iterator_remaining = None
            session.step_records = 0
            step_error(session, f"iterator lost, step restarted ({qb_text})", severity="warn")
        else:
            # The step stops with its mark unmoved; later steps still run.
            step_error(session, qb_text, severity="error")
            session.last_error = f"{Step(step).label}: {qb_text}"
            finish_step(session, advance_mark=False, offset=None)
    else:
        if head.is_warning:
            session.warnings += 1
            step_error(session, qb_text, severity="warn")
        session.step_records += records
        if head.iterator_id and head.iterator_remaining:
            session.iterator_id = head.iterator_id
            session.iterator_remaining = head.iterator_remaining
        else:
            finish_step(session, advance_mark=True, offset=offset, deferred=deferred)
    session.progress = progress_of(session)
    if session.step == Step.DONE:
        session.state = SessionState.DONE
        session.finished_at = now
    else:
        build_next(session, now)


def session_refuse_response(*, ticket: str, reason: str) -> int:
    """A live session's answer was refused before it was parsed (too large, broken envelope).

    The session ends FAILED with a readable getLastError; nothing is stored, and the
    tenant's next run starts afresh (not "busy").
    """
    now = timezone.now()
    with transaction.atomic():
        session = session_for(ticket, now=now)
        if session is None or session.state != SessionState.OPEN:
            return -1
        step = Step(session.step).label.lower()
        return fail(
            session,
            now,
            f"QuickBooks' {step} answer was refused: {reason}. Nothing was stored; lower "
            "QBWC_MAX_RETURNED if QuickBooks' pages are this large.",
        )
