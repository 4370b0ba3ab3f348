"""Thin: bytes -> soap.parse_call -> session.handle -> soap.render."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from audit.logcontext import log_context_bind
from audit.metrics import soap_observed
from qbwc import soap
from qbwc.session import handle, session_fail_after_error

log = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"


def _fault(message: str, *, client: bool = True) -> HttpResponse:
    # SOAP 1.1 section 6.2: a Fault travels with HTTP 500.
    return HttpResponse(soap.render_fault(soap.SoapFault(message, client=client)), status=500, content_type=XML)


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
    limit = settings.QBWC_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return _fault(f"request body over the {limit}-byte limit")
    # Read past DATA_UPLOAD_MAX_MEMORY_SIZE on purpose: our own cap is the limit here.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _fault(f"request body over the {limit}-byte limit")
    try:
        call = soap.parse_call(body, soap_action=request.META.get("HTTP_SOAPACTION", ""), max_bytes=limit)
    except soap.SoapFault as fault:
        log.info("qbwc: refused a SOAP request: %s", fault.message)
        return _fault(fault.message)
    log_context_bind(method=call.method)
    try:
        result = handle(call)
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
