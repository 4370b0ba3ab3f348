"""The WSGI application: the QBWC SOAP endpoint's POSTs through a lean Django handler, the rest
through Django's full one.

A Web Connector is a machine client: it sends no cookie, no CSRF token and no admin
login, so the browser middleware (WhiteNoise, sessions, CSRF, authentication, messages,
django-axes, X-Frame-Options) and the URL resolver only cost it time. Measured in process
on a serverVersion call: 440-500 µs through the full handler against 240-250 µs for the view
alone, about 2.5 ms of a 12-call no-change session (bench/bench_scale.py prints what it buys
at scale). So a POST to that one path gets Django's own WSGI handler (request_started /
request_finished, which close stale database connections; the WSGIRequest; Django's
exception-to-response conversion) with only the middleware that still means something for a
SOAP call:

- SecurityMiddleware: the HTTPS redirect (SECURE_SSL_REDIRECT) and the security headers;
- CommonMiddleware: the Host header checked against ALLOWED_HOSTS (DisallowedHost -> 400),
  and DISALLOWED_USER_AGENTS.

Everything else on that path (GET for the WSDL and the support page, other methods) and every
other path goes through the full stack, unchanged.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.http import parse_header_parameters
from django.utils.module_loading import import_string

from connector.allocator import trim_free_memory
from qbwc.views import endpoint

# In the order settings.MIDDLEWARE runs them; both are Django's own.
SOAP_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
)

# A request body from which on the process's freed memory is handed back afterwards
# (connector/allocator.py): a receiveResponseXML carrying records; never a no-change call.
TRIM_AFTER_BYTES = 256 * 1024

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@functools.lru_cache(maxsize=32)
def _content_type(header: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    content_type, params = parse_header_parameters(header)
    return content_type, tuple(params.items())


class SoapRequest(WSGIRequest):
    """Django's WSGIRequest, its Content-Type parsed once per distinct header value.

    Django parses the header with the email package on every request (3 % of a worker's CPU
    under a polling fleet, py-spy); a Web Connector sends the same value every time. The
    cache is small and bounded (a client sending a new value per request only misses it),
    and each request gets its own dict of parameters, as Django's own parse gives.
    """

    def _set_content_type_params(self, meta: dict[str, Any]) -> None:
        content_type, params = _content_type(meta.get("CONTENT_TYPE", ""))
        self.content_type, self.content_params = content_type, dict(params)
        if "charset" in self.content_params:
            try:
                codecs.lookup(self.content_params["charset"])
            except LookupError:
                pass
            else:
                self.encoding = self.content_params["charset"]


class SoapHandler(WSGIHandler):
    """Django's WSGI handler with SOAP_MIDDLEWARE around the SOAP view, and no URL resolution."""

    request_class = SoapRequest

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware builds the chain from settings.MIDDLEWARE; this is the
        # same construction (each layer wrapped by convert_exception_to_response) over our list.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler: Callable[[HttpRequest], Any] = convert_exception_to_response(self._get_response)
        for path in reversed(SOAP_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def _get_response(self, request: HttpRequest) -> HttpResponseBase:
        return endpoint(request)


class SoapRoute:
    """WSGI: POST to the SOAP endpoint's path -> SoapHandler; anything else -> Django's handler."""

    def __init__(self, django: WsgiApp) -> None:
        self.django = django
        self.soap = SoapHandler()
        # PATH_INFO never holds SCRIPT_NAME, so the path is compared without the script prefix
        # ("/" until a request sets one, and this runs before any request).
        self.path = reverse("qbwc:endpoint")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self.path:
            body = _as_list(self.soap(environ, start_response))
            declared = environ.get("CONTENT_LENGTH") or ""
            if declared.isascii() and declared.isdigit() and int(declared) >= TRIM_AFTER_BYTES:
                trim_free_memory()  # a page of QuickBooks' answers: give its freed memory back
            return body
        return self.django(environ, start_response)


def _as_list(response: Iterable[bytes]) -> list[bytes]:
    """A SOAP answer is always a complete HttpResponse: hand the server its bytes as a list.

    PEP 3333 lets a server send a list in one write; granian does (`response_bytes`), where
    any other iterable goes through its iterator protocol, a Python call per chunk and a
    close() callback. py-spy (--gil) put 21 % of a worker's no-change-session CPU there. The
    response is closed here, as the server would have closed it: that is Django's
    request_finished (close_old_connections), so it still runs once per request.
    """
    try:
        return [b"".join(response)]
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()
