"""The Web Connector conversation: the SOAP dispatch and its small operations.

Call order (QBWC Programmer's Guide): serverVersion, clientVersion, authenticate,
then sendRequestXML / receiveResponseXML pairs until progress is 100 (or
negative: getLastError), then closeConnection. Every call after authenticate
names its tenant only through the ticket (qbwc.tickets). authenticate lives in
qbwc.login, sendRequestXML in qbwc.send, receiveResponseXML in qbwc.receive,
what they share in qbwc.session_state, the plan's step mechanics in qbwc.steps.
The database lives in these modules; parsing is in soap/qbxml.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from audit.compiled_sql import update_where
from audit.metrics import qbwc_login_observed, qbwc_session_ended
from qbwc import qb_errors
from qbwc.login import session_authenticate
from qbwc.models import QbwcSession, SessionState
from qbwc.receive import session_receive_response, session_refuse_response
from qbwc.send import session_send_request
from qbwc.session_state import fail, small_int
from qbwc.soap import SoapCall
from qbwc.tickets import session_for

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector 1.0 (read-only: vendors, bills, deletions)"
# QBWC 2.1 is the oldest release Intuit still supports; older ones lack fixes we rely on.
MIN_CLIENT_VERSION = (2, 1)
UNKNOWN_TICKET = (
    "This Web Connector session is unknown or has expired. Nothing was lost: the next update starts a new session."
)


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
                ticket=p("ticket"), response=call.response, hresult=p("hresult"), message=p("message")
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


def client_version_check(*, version: str) -> str:
    """ "" to go on; "W:" warns (the user may continue)."""
    parts = tuple(n for n in (small_int(x) for x in version[:100].split(".")[:2]) if n is not None)
    if parts and parts < MIN_CLIENT_VERSION:
        return "W:This Web Connector is old; please update it from Intuit's site."
    return ""


def session_fail_after_error(*, ticket: str, error: str) -> None:
    """Close a session whose call crashed, so the next update starts afresh instead of 'busy'.

    Runs in its own transaction after the failed one rolled back; never raises.
    """
    try:
        with transaction.atomic():
            session = session_for(ticket, now=timezone.now())
            if session is not None and session.state == SessionState.OPEN:
                fail(session, timezone.now(), error)
    except Exception:
        log.exception("qbwc: could not mark the session failed after an error")


# --- the rest of the conversation --------------------------------------------


def session_connection_error(*, ticket: str, hresult: str, message: str) -> str:
    """QBWC could not open QuickBooks or the company file. We never retry another file."""
    now = timezone.now()
    session = session_for(ticket, now=now, lock=False)
    if session is not None and session.state == SessionState.OPEN:
        fail(
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
        closed = update_where(
            QbwcSession,
            values={
                "state": SessionState.CLOSED, "finished_at": session.finished_at, "last_seen_at": now,
                "pending_request": "",
            },
            where={"id": session.pk, "state": session.state},
        )  # fmt: skip
        if closed:
            qbwc_session_ended(outcome="closed_early" if session.state == SessionState.OPEN else "")
        session.state = SessionState.CLOSED
    return summary(session)
