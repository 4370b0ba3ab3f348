"""The Web Connector conversation. The database lives here; parsing is in soap/qbxml.

Call order (QBWC Programmer's Guide): serverVersion, clientVersion, authenticate,
then sendRequestXML / receiveResponseXML pairs until progress is 100 (or
negative: getLastError), then closeConnection. Every call after authenticate
names its tenant only through the ticket (qbwc.tickets). authenticate lives in
qbwc.login, the plan's step mechanics in qbwc.steps.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.metrics import qbwc_login_observed, qbwc_session_ended
from audit.transactions import retry_when_deadlocked
from qbwc import qb_errors, qbxml
from qbwc.answer_limits import answer_refusal
from qbwc.login import session_authenticate
from qbwc.logtext import printable
from qbwc.models import QbwcSession, RawResponse, SessionState, Step
from qbwc.soap import SoapCall
from qbwc.steps import finish_step, marks_snapshot, progress_of, qb_offset, since_for, step_error, store_records
from qbwc.tickets import session_for

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector 1.0 (read-only: vendors, bills, deletions)"
# QBWC 2.1 is the oldest release Intuit still supports; older ones lack fixes we rely on.
MIN_CLIENT_VERSION = (2, 1)
UNKNOWN_TICKET = (
    "This Web Connector session is unknown or has expired. Nothing was lost: the next update starts a new session."
)
# How many times a step may restart after QuickBooks lost its iterator, per session.
MAX_ITERATOR_RESTARTS = 2


def handle(call: SoapCall, *, client_address: str = "") -> str | int | list[str]:
    """Dispatch one parsed SOAP call to its operation."""
    p = call.get
    if call.refused and call.method == "receiveResponseXML":
        return session_refuse_response(ticket=p("ticket"), reason=call.refused)
    match call.method:
        case "serverVersion":
            return SERVER_VERSION
        case "clientVersion":
            return client_version_check(version=p("strVersion"))
        case "authenticate":
            return qbwc_login_observed(
                session_authenticate(
                    username=p("strUserName"), password=p("strPassword"), client_address=client_address
                )
            )
        case "sendRequestXML":
            return session_send_request(
                ticket=p("ticket"),
                hcp_response=p("strHCPResponse"),
                company_file=p("strCompanyFileName"),
                major=p("qbXMLMajorVers"),
                minor=p("qbXMLMinorVers"),
            )
        case "receiveResponseXML":
            return session_receive_response(
                ticket=p("ticket"), response=p("response"), hresult=p("hresult"), message=p("message")
            )
        case "connectionError":
            return session_connection_error(ticket=p("ticket"), hresult=p("hresult"), message=p("message"))
        case "getLastError":
            return session_last_error(ticket=p("ticket"))
        case "closeConnection":
            return session_close(ticket=p("ticket"))
        case "getInteractiveURL":
            return ""  # we never ask for interactive mode
        case "interactiveDone":
            return "Done"
        case "interactiveRejected":
            return "Interactive mode is not used by ml-connector; nothing to do."
    raise ValueError(f"unhandled operation {call.method}")


def small_int(text: str) -> int | None:
    """A short run of ASCII digits as an int, else None (str.isdigit() also accepts '²', which int() refuses)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def client_version_check(*, version: str) -> str:
    """ "" to go on; "W:" warns (the user may continue)."""
    parts = tuple(n for n in (small_int(x) for x in version[:100].split(".")[:2]) if n is not None)
    if parts and parts < MIN_CLIENT_VERSION:
        return "W:This Web Connector is old; please update it from Intuit's site."
    return ""


# --- sendRequestXML -----------------------------------------------------------


def _negotiate(session: QbwcSession, *, hcp_response: str, major: str, minor: str) -> str:
    host = qbxml.parse_host_response(hcp_response, max_bytes=settings.QBWC_MAX_BODY_BYTES)
    session.company_name = host.company_name[:255]
    session.qb_product = host.product[:255]
    session.qbxml_versions = ", ".join(host.versions)[:255]
    if host.versions:
        return qbxml.choose_version(host.versions)
    major_n, minor_n = small_int(major), small_int(minor)
    if major_n:
        offered = f"{major_n}.{minor_n or 0}"
        return qbxml.choose_version([offered]) or ""
    return qbxml.DEFAULT_VERSION


def _build_next(session: QbwcSession, now: datetime) -> None:
    """Build the request for the session's current step (or its next iterator page) now, so the
    sendRequestXML that asks for it is one read. The step's mark will be this moment."""
    step = session.step
    if session.step_started_at is None:
        session.step_started_at = now
    _ensure_marks(session)
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


def _ensure_marks(session: QbwcSession) -> None:
    """Read the marks into the session once: at its first request, or when a session opened
    before the snapshot existed (a deploy mid-run) first moves. A real snapshot is never
    empty: it always holds "_offset"."""
    if not session.marks:
        session.marks = marks_snapshot(session.tenant_id)


# A session seen this recently is not written just to say so (the TTL is minutes).
_TOUCH_AFTER = timedelta(seconds=30)


def _touch(session: QbwcSession, now: datetime) -> None:
    if now - session.last_seen_at >= _TOUCH_AFTER:
        session.last_seen_at = now
        QbwcSession.objects.filter(pk=session.pk).update(last_seen_at=now)


def session_send_request(*, ticket: str, hcp_response: str, company_file: str, major: str, minor: str) -> str:
    """The next qbXML request of the plan, or "" when there is nothing (more) to send.

    One read when the request is already built (a QBWC retry, or any request after the
    first: receiveResponseXML builds the next one); the first also negotiates the qbXML
    version and reads the marks once, then writes the session once. No transaction: each
    statement is atomic and the write is guarded by the sequence numbers it read.
    """
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is None or session.state != SessionState.OPEN:
        return ""
    if session.request_seq > session.answered_seq and session.pending_request:
        _touch(session, now)
        return session.pending_request
    seen = (session.request_seq, session.answered_seq)
    fields = ["last_seen_at", "step_started_at", "request_seq", "pending_request", "marks"]
    session.last_seen_at = now
    if not session.qbxml_version:
        version = _negotiate(session, hcp_response=hcp_response, major=major, minor=minor)
        session.company_file = company_file[:500]
        fields += ["company_name", "qb_product", "qbxml_versions", "company_file", "qbxml_version"]
        if not version:
            _fail(
                session,
                now,
                "QuickBooks offers qbXML "
                + (session.qbxml_versions or f"{major}.{minor}")
                + f"; ml-connector needs one of {', '.join(qbxml.SUPPORTED_VERSIONS)}.",
                extra=fields,
            )
            return ""
        session.qbxml_version = version
        session.marks = {}  # read afresh by _build_next: one read per session
    _build_next(session, now)
    if not _save_guarded(session, seen, fields):
        return _reread_pending(ticket, now)
    return session.pending_request


def _save_guarded(session: QbwcSession, seen: tuple[int, int], fields: list[str]) -> bool:
    """Write `fields` if the session still has the (request_seq, answered_seq) we read: a
    concurrent duplicate call then loses instead of overwriting. One UPDATE."""
    request_seq, answered_seq = seen
    values = {name: getattr(session, name) for name in dict.fromkeys(fields)}
    return bool(
        QbwcSession.objects.filter(
            pk=session.pk, state=SessionState.OPEN, request_seq=request_seq, answered_seq=answered_seq
        ).update(**values)
    )


def _reread_pending(ticket: str, now: datetime) -> str:
    session = session_for(ticket, now=now, lock=False)
    if session is None or session.state != SessionState.OPEN:
        return ""
    return session.pending_request if session.request_seq > session.answered_seq else ""


# --- receiveResponseXML -------------------------------------------------------


_FAIL_FIELDS = ["state", "last_error", "hresult", "progress", "finished_at", "pending_request", "last_seen_at"]


def _fail(session: QbwcSession, now: datetime, error: str, *, hresult: str = "", extra: list[str] | None = None) -> int:
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


def session_fail_after_error(*, ticket: str, error: str) -> None:
    """Close a session whose call crashed, so the next update starts afresh instead of 'busy'.

    Runs in its own transaction after the failed one rolled back; never raises.
    """
    try:
        with transaction.atomic():
            session = session_for(ticket, now=timezone.now())
            if session is not None and session.state == SessionState.OPEN:
                _fail(session, timezone.now(), error)
    except Exception:
        log.exception("qbwc: could not mark the session failed after an error")


# What receiveResponseXML may change on the session (written with update_fields, never all ~30 columns).
_RECEIVE_FIELDS = [
    "answered_seq", "pending_request", "request_seq", "iterator_restarts", "iterator_id", "iterator_remaining",
    "step_records", "step_errors", "last_error", "step", "step_started_at", "warnings", "vendors_received",
    "bills_received", "deletions_received", "records_changed", "progress", "state", "finished_at", "marks",
    "last_seen_at", "answered_sha256",
]  # fmt: skip


def _is_empty_answer(parsed: qbxml.QueryResponse) -> bool:
    """Status 1 ("A query request did not find a matching object", qbXML SDK status codes): nothing to store."""
    return parsed.status_code == "1" and not parsed.records and not parsed.iterator_remaining and not parsed.is_error


def session_receive_response(*, ticket: str, response: str, hresult: str, message: str) -> int:
    """Store one qbXML response; answer progress 0..100, or -1 (see getLastError).

    A page with records is one transaction: records, audit events, outbox rows, the raw
    response and the session's step/iterator/mark move together or not at all. An empty
    status-1 answer stores no raw response and needs no transaction: its mark moves in one
    upsert (the step is wholly stored: it had nothing), then the session in one guarded
    UPDATE; a crash between the two leaves a mark that is right and a response QBWC resends.
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
        _touch(session, now)
        return session.progress
    sha256 = hashlib.sha256(response.encode("utf-8")).hexdigest()
    if session.answered_seq and sha256 == session.answered_sha256:
        # The previous answer again, after we built the next request from it: QBWC retried.
        _touch(session, now)
        return session.progress
    step = session.step
    if hresult.strip() or not response.strip():
        return _fail(
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
        return _fail(
            session, now, f"QuickBooks' {Step(step).label.lower()} answer was refused: {refusal}. Nothing was stored."
        )
    try:
        parsed = qbxml.parse_response(response, step, max_bytes=settings.QBWC_MAX_BODY_BYTES)  # type: ignore[arg-type]
    except qbxml.QbxmlError as exc:
        return _fail(session, now, f"QuickBooks sent a {Step(step).label.lower()} response we cannot read: {exc}")
    if parsed.request_id and parsed.request_id != str(seq):
        answered = small_int(parsed.request_id)
        if answered is not None and answered <= session.answered_seq:
            # The answer to an earlier request, again (the next request is already built).
            _touch(session, now)
            return session.progress
        return _fail(session, now, f"QuickBooks answered request {parsed.request_id}, we asked {seq}")

    if _is_empty_answer(parsed):
        seen = (session.request_seq, session.answered_seq)
        _advance(session, parsed, now, sha256=sha256)
        if not _save_guarded(session, seen, _RECEIVE_FIELDS):
            again = session_for(ticket, now=now, lock=False)  # a concurrent duplicate won
            return again.progress if again is not None else -1
        if session.state == SessionState.DONE:
            qbwc_session_ended(outcome="done")
        return session.progress

    stored = _store_page(
        ticket=ticket,
        now=now,
        seq=seq,
        answered_seq=session.answered_seq,
        parsed=parsed,
        sha256=sha256,
        response=response,
    )
    if isinstance(stored, int):
        return stored
    session = stored
    if session.state == SessionState.DONE:
        qbwc_session_ended(outcome="done")
    return session.progress


@retry_when_deadlocked()
def _store_page(
    *, ticket: str, now: datetime, seq: int, answered_seq: int, parsed: qbxml.QueryResponse, sha256: str, response: str
) -> QbwcSession | int:
    """The page's one transaction (run again whole if PostgreSQL aborts it for a deadlock).

    Returns the session as stored, or the progress to answer when another call got there first.
    """
    locked = session_for(ticket, now=now, lock=True)
    if locked is None or (locked.state, locked.request_seq, locked.answered_seq) != (
        SessionState.OPEN,
        seq,
        answered_seq,
    ):
        return locked.progress if locked is not None and locked.state == SessionState.OPEN else -1
    session = locked
    RawResponse.objects.create(
        tenant_id=session.tenant_id,
        session=session,
        request_seq=seq,
        step=session.step,
        status_code=parsed.status_code,
        status_message=parsed.status_message[:2000],
        records=len(parsed.records),
        sha256=sha256,
        body=response,
    )
    _advance(session, parsed, now, sha256=sha256)
    session.save(update_fields=_RECEIVE_FIELDS)
    return session


def _advance(session: QbwcSession, parsed: qbxml.QueryResponse, now: datetime, *, sha256: str) -> None:
    """Apply one answer to the session: store its records, move the step/iterator/mark, and
    build the next request (see _build_next)."""
    _ensure_marks(session)
    session.last_seen_at = now
    session.answered_seq = session.request_seq
    session.answered_sha256 = sha256
    session.pending_request = ""
    step = session.step
    qb_text = f"QuickBooks status {parsed.status_code}: {parsed.status_message}"
    if parsed.is_error or int(parsed.status_code) >= 3000:
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
        if parsed.is_warning:
            session.warnings += 1
            step_error(session, qb_text, severity="warn")
        store_records(session, parsed.records)
        session.step_records += len(parsed.records)
        if parsed.iterator_id and parsed.iterator_remaining:
            session.iterator_id = parsed.iterator_id
            session.iterator_remaining = parsed.iterator_remaining
        else:
            finish_step(session, advance_mark=True, offset=qb_offset(parsed.records))
    session.progress = progress_of(session)
    if session.step == Step.DONE:
        session.state = SessionState.DONE
        session.finished_at = now
    else:
        _build_next(session, now)


# --- the rest of the conversation --------------------------------------------


def session_connection_error(*, ticket: str, hresult: str, message: str) -> str:
    """QBWC could not open QuickBooks or the company file. We never retry another file."""
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is not None and session.state == SessionState.OPEN:
        _fail(
            session,
            now,
            f"The Web Connector could not open QuickBooks: {message.strip()} ({hresult.strip()})",
            hresult=hresult.strip(),
        )
    return "done"


def session_last_error(*, ticket: str) -> str:
    # Reads only: getLastError every 30 s must not keep a session alive (the TTL is absolute).
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is None or session.state in (SessionState.EXPIRED, SessionState.CLOSED):
        return UNKNOWN_TICKET
    # QBWC shows this text to the bookkeeper: the plain cause and fix first, the raw code beside it.
    return qb_errors.for_bookkeeper(hresult=session.hresult, message=session.last_error)


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
        return _fail(
            session,
            now,
            f"QuickBooks' {step} answer was refused: {reason}. Nothing was stored; lower "
            "QBWC_MAX_RETURNED if QuickBooks' pages are this large.",
        )


def summary(session: QbwcSession) -> str:
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    text = (
        f"{n(session.vendors_received, 'vendor')}, {n(session.bills_received, 'bill')}, "
        f"{n(session.deletions_received, 'deletion')} received"
    )
    if session.records_changed:
        text += f" ({session.records_changed} new or changed, queued for Procore)"
    errors = [e for e in session.step_errors if e.get("severity") == "error"]
    if errors:
        text += "; " + "; ".join(f"{e['step']} stopped: {e['text']}" for e in errors)
    if session.state == SessionState.FAILED:
        text += f"; failed: {qb_errors.for_bookkeeper(hresult=session.hresult, message=session.last_error)}"
    return text


def session_close(*, ticket: str) -> str:
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is None:
        return "Nothing to do."
    if session.state == SessionState.EXPIRED:
        return UNKNOWN_TICKET
    if session.state in (SessionState.OPEN, SessionState.DONE):
        # An OPEN session closed early keeps its marks where they were. Guarded on the
        # state read, so a concurrent call that failed or expired it is not overwritten.
        session.finished_at = session.finished_at or now
        closed = QbwcSession.objects.filter(pk=session.pk, state=session.state).update(
            state=SessionState.CLOSED, finished_at=session.finished_at, last_seen_at=now, pending_request=""
        )
        if closed:
            qbwc_session_ended(outcome="closed_early" if session.state == SessionState.OPEN else "")
        session.state = SessionState.CLOSED
    return summary(session)
