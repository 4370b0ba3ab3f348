"""connector.soap_route: the SOAP endpoint's POSTs take the lean handler, everything else Django's
full one; what the lean handler keeps (host check, HTTPS redirect, security headers, Django's
request signals) still holds."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import request_finished, request_started

from connector.soap_route import SoapRequest, SoapRoute
from peers.qbwc_simulator.client import envelope
from qbwc.soap import QBWC_NS

BODY = envelope("serverVersion", {})


def _environ(*, method: str = "POST", path: str = "/qbwc/", host: str = "testserver", **extra: Any) -> dict[str, Any]:
    body = BODY if method == "POST" else b""
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": extra.pop("query", ""),
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": host,
        "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
        "HTTP_SOAPACTION": f'"{QBWC_NS}serverVersion"', "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
    } | extra  # fmt: skip


class _Answer:
    def __init__(self, route: SoapRoute, environ: dict[str, Any]) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            self.status, self.headers = status, dict(headers)

        self.result = route(environ, start_response)
        self.body = b"".join(self.result)
        close = getattr(self.result, "close", None)
        if close is not None:  # what a WSGI server does with a non-list answer
            close()


@pytest.fixture
def route(db: None) -> SoapRoute:
    return SoapRoute(WSGIHandler())


@pytest.fixture
def signals() -> Iterator[list[str]]:
    seen: list[str] = []

    def started(**_: Any) -> None:
        seen.append("started")

    def finished(**_: Any) -> None:
        seen.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    yield seen
    request_started.disconnect(started)
    request_finished.disconnect(finished)


def test_a_soap_post_is_answered_by_the_lean_handler_as_one_complete_body(route: SoapRoute, signals: list[str]) -> None:
    answer = _Answer(route, _environ())
    assert answer.status == "200 OK"
    assert isinstance(answer.result, list) and len(answer.result) == 1, "a list: the server sends it in one write"
    assert b"<serverVersionResult>" in answer.body
    assert answer.headers["X-Content-Type-Options"] == "nosniff", "SecurityMiddleware still runs"
    assert "X-Frame-Options" not in answer.headers, "the browser middleware does not"
    assert "Set-Cookie" not in answer.headers and "Vary" not in answer.headers
    # Django's own request signals (close_old_connections hangs on both) ran once each, in order.
    assert signals == ["started", "finished"]


def test_everything_else_takes_the_full_stack(route: SoapRoute, signals: list[str]) -> None:
    wsdl = _Answer(route, _environ(method="GET", query="wsdl"))
    assert wsdl.status == "200 OK" and b"wsdl:definitions" in wsdl.body
    assert wsdl.headers["X-Frame-Options"] == "DENY", "XFrameOptionsMiddleware: the full stack"
    other = _Answer(route, _environ(path="/qbwc/support/"))
    assert other.headers.get("X-Frame-Options") == "DENY"
    assert not isinstance(other.result, list), "the full stack's answer is Django's own response object"
    assert signals == ["started", "finished", "started", "finished"]


def test_a_host_outside_allowed_hosts_is_refused(route: SoapRoute, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["connector.example.com"]
    assert _Answer(route, _environ(host="evil.example.net")).status.startswith("400")
    good = _Answer(route, _environ(host="connector.example.com"))
    assert good.status == "200 OK"


def test_plain_http_is_redirected_when_https_is_required(db: None, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is built, as in Django's own handler
    settings.SECURE_HSTS_SECONDS = 3600
    route = SoapRoute(WSGIHandler())
    answer = _Answer(route, _environ())
    assert answer.status.startswith("301") and answer.headers["Location"] == "https://testserver/qbwc/"
    secure = _Answer(route, _environ(**{"wsgi.url_scheme": "https", "SERVER_PORT": "443"}))
    assert secure.status == "200 OK"
    assert secure.headers["Strict-Transport-Security"] == "max-age=3600", "HSTS on the SOAP answer"


def test_the_live_server_of_the_qbwc_tests_serves_the_route(live_server: Any, transactional_db: None) -> None:
    answer = requests.post(
        live_server.url + "/qbwc/",
        data=BODY,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{QBWC_NS}serverVersion"'},
        timeout=10,
    )
    assert answer.status_code == 200 and b"<serverVersionResult>" in answer.content
    assert "X-Frame-Options" not in answer.headers and answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_content_type_is_read_as_django_reads_it(route: SoapRoute) -> None:
    for header in ("text/xml; charset=utf-8", 'text/xml; charset="ISO-8859-1"', "text/xml; charset=nope", ""):
        ours, django = SoapRequest(_environ(CONTENT_TYPE=header)), WSGIRequest(_environ(CONTENT_TYPE=header))
        assert (ours.content_type, ours.content_params, ours.encoding) == (
            django.content_type, django.content_params, django.encoding,
        ), header  # fmt: skip
    # Each request has its own parameters: changing one request's does not change the next one's.
    first = SoapRequest(_environ())
    assert first.content_params is not None
    first.content_params["charset"] = "changed"
    assert SoapRequest(_environ()).content_params == {"charset": "utf-8"}


def test_a_large_soap_post_hands_the_freed_memory_back_and_a_small_one_does_not(
    route: SoapRoute, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connector.allocator.trim_free_memory after a body of TRIM_AFTER_BYTES or more (a page of
    answers), never after a no-change call's small envelopes."""
    import connector.soap_route as soap_route

    trims: list[int] = []

    def trim() -> bool:
        trims.append(1)
        return True

    monkeypatch.setattr(soap_route, "trim_free_memory", trim)
    small = _Answer(route, _environ())
    assert small.status.startswith("200") and trims == []
    padding = b" " * soap_route.TRIM_AFTER_BYTES  # whitespace before the envelope: still read whole
    big = padding + BODY
    environ = _environ()
    environ.update({"CONTENT_LENGTH": str(len(big)), "wsgi.input": io.BytesIO(big)})
    _Answer(route, environ)
    assert trims == [1]
