"""Thin: bytes -> soap.CallReader -> session.handle -> soap.render.

The body is read in chunks and parsed as it arrives (soap.CallReader): every
operation but receiveResponseXML is refused past a few KB, and receiveResponseXML's
ticket is checked before its payload is parsed, so an anonymous request cannot
make the server build a large tree.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from audit.logcontext import log_context_bind
from audit.metrics import soap_observed
from qbwc import soap
from qbwc.logtext import printable
from qbwc.session import handle, session_fail_after_error
from qbwc.tickets import ticket_is_live
from tenants.client_ip import client_ip

log = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"
# How much of the body is read and fed to the envelope parser at a time. Each chunk, expat's
# copy of what it has not parsed yet and the text it hands over are freed back to the heap,
# where they stay resident until the request ends: reading a 500-bill answer's 0.94 MB
# envelope cost ~390 KB beside the answer in 64 KB chunks, ~160 KB in 16 KB chunks (in
# process, pinned malloc thresholds), the difference between 3.0-3.2x and 2.8-2.9x the page
# in the ingest's peak memory (bench/bench_qbwc.py section 4, with read-ahead). ~60 reads for
# such a page instead of ~15; a no-change call is one read either way.
CHUNK = 16 * 1024


def _fault(message: str, *, client: bool = True) -> HttpResponse:
    # SOAP 1.1 section 6.2: a Fault travels with HTTP 500.
    response = HttpResponse(soap.render_fault(soap.SoapFault(message, client=client)), status=500, content_type=XML)
    # Already logged by us at the right level: keep django.request from adding an
    # ERROR "Internal Server Error" line that anyone on the internet could trigger.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def limits() -> soap.Limits:
    return soap.Limits(
        small_bytes=settings.QBWC_MAX_CALL_BYTES,
        max_bytes=settings.QBWC_MAX_BODY_BYTES,
        response_bytes=settings.QBWC_MAX_RESPONSE_BYTES,
        max_elements=settings.QBWC_MAX_ENVELOPE_ELEMENTS,
        max_depth=settings.QBWC_MAX_ENVELOPE_DEPTH,
    )


def _drain(request: HttpRequest) -> None:
    # Read (and drop) what is left, a chunk at a time: a server that closes a socket
    # with unread bytes sends a TCP reset, and the client never sees our answer.
    while request.read(CHUNK):
        pass


def read_call(request: HttpRequest, lim: soap.Limits) -> soap.SoapCall:
    """Parse the request body as it arrives; raise SoapFault when it is refused."""
    reader = soap.CallReader(soap_action=request.META.get("HTTP_SOAPACTION", ""), limits=lim)
    try:
        return _read(request, lim, reader)
    finally:
        reader.release()  # the parser keeps the reader's text until a garbage collection (soap._Envelope)


def _read(request: HttpRequest, lim: soap.Limits, reader: soap.CallReader) -> soap.SoapCall:
    checked = False
    declared = request.META.get("CONTENT_LENGTH") or ""
    small = declared.isascii() and declared.isdigit() and int(declared) <= lim.small_bytes
    try:
        while chunk := request.read(CHUNK):
            reader.feed(chunk)
            if reader.method == soap.LARGE_OPERATION and reader.ticket is not None and not checked:
                checked = True
                # A small answer costs nothing to parse; a large one only for a live session.
                if not small and not ticket_is_live(reader.ticket):
                    _drain(request)
                    return soap.SoapCall(method=reader.method, params={"ticket": reader.ticket})
        return reader.close()
    except soap.SoapFault as fault:
        ticket = reader.ticket
        if reader.method == soap.LARGE_OPERATION and ticket and (checked or ticket_is_live(ticket)):
            # The session is real but its answer is too large or broken: end the session
            # with a readable reason (getLastError) instead of faulting and leaving it open.
            _drain(request)
            return soap.SoapCall(method=reader.method, params={"ticket": ticket}, refused=fault.message)
        _drain(request)
        raise


@csrf_exempt  # a SOAP client has no CSRF token; the ticket is its credential
@soap_observed
def endpoint(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if "wsdl" in {k.lower() for k in request.GET}:
            location = request.build_absolute_uri(request.path)
            return render(request, "qbwc/service.wsdl", {"location": location}, content_type=XML)
        return render(request, "qbwc/support.html")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    lim = limits()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isascii() and declared.isdigit() and int(declared) > lim.max_bytes:
        log.info("qbwc: refused a SOAP request of %s bytes (limit %s)", printable(declared, limit=20), lim.max_bytes)
        return _fault(f"request body over the {lim.max_bytes}-byte limit")
    try:
        call = read_call(request, lim)
    except soap.SoapFault as fault:
        log.info("qbwc: refused a SOAP request: %s", printable(fault.message))
        return _fault(fault.message)
    log_context_bind(method=call.method)
    try:
        # Only authenticate uses the address (login throttling); the other calls skip parsing it.
        address = client_ip(request) if call.method == "authenticate" else ""
        result = handle(call, client_address=address)
    except Exception:
        log.exception("qbwc: %s failed", call.method)
        ticket = call.get("ticket") or call.get("wcTicket")
        if ticket:
            session_fail_after_error(ticket=ticket, error=f"internal error during {call.method}; nothing was stored")
        return _fault("internal error; nothing was stored", client=False)
    return HttpResponse(soap.render_result(call.method, result), content_type=XML)


def support(request: HttpRequest) -> HttpResponse:
    """The AppSupport page the .qwc points to (same domain as AppURL, as QBWC requires)."""
    return render(request, "qbwc/support.html")
