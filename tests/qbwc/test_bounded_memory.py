"""Finding 1: one padded 50 MB request costs a bounded amount of server memory.

Measured on the production-shaped server (granian, one worker process with one thread, DEBUG=0) in a
subprocess: the worker's peak RSS (VmHWM, reset before each request) against its RSS
before. Before the fix the same body grew the worker by ~1.5 GB.
"""

from __future__ import annotations

import pytest
import requests

from tests.harness_web import QBWC_PASSWORD, Server, web_server

__all__ = ["web_server"]

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
H = {"Content-Type": "text/xml; charset=utf-8"}
BOUND = 64 * 1024 * 1024


def padded(method: str, params: str, pad: int) -> bytes:
    head = (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'
        f'<{method} xmlns="http://developer.intuit.com/">{params}<pad>'
    ).encode()
    return head + b"<a/>" * pad + f"</pad></{method}></soap:Body></soap:Envelope>".encode()


def growth(server: Server, body: bytes) -> tuple[int, requests.Response]:
    before = server.reset_peak()
    response = requests.post(server.url + "/qbwc/", data=body, headers=H, timeout=300)
    return server.peak() - before, response


@pytest.mark.slow
def test_a_50mb_tiny_element_authenticate_stays_within_a_fixed_memory_bound(web_server: Server) -> None:
    body = padded("authenticate", "<strUserName>acme-qbwc</strUserName><strPassword>x</strPassword>", 12_400_000)
    assert 49_000_000 < len(body) <= 50 * 1024 * 1024
    grew, response = growth(web_server, body)
    assert response.status_code == 500 and (
        b"limit" in response.content or b"more than 64 elements" in response.content
    )
    assert grew < BOUND, f"worker grew {grew / 2**20:.0f} MiB"


@pytest.mark.slow
def test_a_50mb_receive_response_with_a_made_up_ticket_stays_within_the_bound(web_server: Server) -> None:
    body = padded("receiveResponseXML", "<ticket>made-up</ticket><response>", 12_400_000).replace(
        b"</pad>", b"</pad></response>"
    )
    grew, response = growth(web_server, body)
    assert response.status_code in (200, 500)
    assert grew < BOUND, f"worker grew {grew / 2**20:.0f} MiB"
    # The server still answers the real Web Connector afterwards.
    ok = padded("authenticate", f"<strUserName>acme-qbwc</strUserName><strPassword>{QBWC_PASSWORD}</strPassword>", 0)
    answer = requests.post(web_server.url + "/qbwc/", data=ok, headers=H, timeout=60)
    assert answer.status_code == 200 and b"nvu" not in answer.content
