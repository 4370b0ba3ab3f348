"""sendRequestXML: the next qbXML request of the plan (the first also negotiates the version)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from qbwc import qbxml
from qbwc.models import QbwcSession, SessionState
from qbwc.session_state import build_next, fail, save_guarded, small_int, touch
from qbwc.tickets import session_for


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
        touch(session, now)
        return session.pending_request
    seen = (session.request_seq, session.answered_seq)
    fields = ["last_seen_at", "step_started_at", "request_seq", "pending_request", "marks"]
    session.last_seen_at = now
    if not session.qbxml_version:
        version = _negotiate(session, hcp_response=hcp_response, major=major, minor=minor)
        session.company_file = company_file[:500]
        fields += ["company_name", "qb_product", "qbxml_versions", "company_file", "qbxml_version"]
        if not version:
            fail(
                session,
                now,
                "QuickBooks offers qbXML "
                + (session.qbxml_versions or f"{major}.{minor}")
                + f"; ml-connector needs one of {', '.join(qbxml.SUPPORTED_VERSIONS)}.",
                extra=fields,
            )
            return ""
        session.qbxml_version = version
        session.marks = {}  # read afresh by build_next: one read per session
    build_next(session, now)
    if not save_guarded(session, seen, fields):
        return _reread_pending(ticket, now)
    return session.pending_request


def _reread_pending(ticket: str, now: datetime) -> str:
    session = session_for(ticket, now=now, lock=False)
    if session is None or session.state != SessionState.OPEN:
        return ""
    return session.pending_request if session.request_seq > session.answered_seq else ""
