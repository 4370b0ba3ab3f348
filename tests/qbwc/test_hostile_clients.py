"""Issue 10: the SOAP endpoint against hostile clients, over real HTTP (live server).

Each test names the finding it guards; each failed on the code before the fix.
"""

from __future__ import annotations

import http.client
import logging
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import etree

from audit.models import SyncRecord
from peers.qbwc_simulator.client import envelope
from qbwc.models import LoginThrottle, QbwcSession, SessionState
from qbwc.session import UNKNOWN_TICKET
from tenants import services
from tenants.models import Tenant
from tests.factories import PASSWORD
from tests.harness_qbwc import QbwcHarness

QB_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
H = {"Content-Type": "text/xml; charset=utf-8"}


def post_from(url: str, body: bytes, *, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """POST from a chosen loopback address (the whole of 127/8 is this machine)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60, source_address=(source, 0))
    try:
        conn.request("POST", parts.path, body=body, headers=H)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def result_of(content: bytes, method: str) -> list[str] | str:
    node = etree.fromstring(content).find(f"{{{SOAP_NS}}}Body/{{{QB_NS}}}{method}Response/{{{QB_NS}}}{method}Result")
    assert node is not None, content[:300]
    strings = [s.text or "" for s in node.iterfind(f"{{{QB_NS}}}string")]
    return strings if method == "authenticate" else (node.text or "")


def authenticate(qbwc: QbwcHarness, password: str = PASSWORD, *, source: str = "127.0.0.1") -> list[str]:
    status, content = post_from(
        qbwc.url,
        envelope("authenticate", {"strUserName": qbwc.tenant.qbwc_username, "strPassword": password}),
        source=source,
    )
    assert status == 200, content[:300]
    answer = result_of(content, "authenticate")
    assert isinstance(answer, list)
    return answer


def call(qbwc: QbwcHarness, method: str, **params: str | int) -> str:
    status, content = post_from(qbwc.url, envelope(method, params))
    assert status == 200, content[:300]
    answer = result_of(content, method)
    assert isinstance(answer, str)
    return answer


def open_session(qbwc: QbwcHarness) -> str:
    ticket = authenticate(qbwc)[0]
    assert ticket
    request = call(
        qbwc,
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert "VendorQueryRq" in request
    return ticket


def vendor_answer(n: int, request_id: str = "1", pad: int = 0) -> str:
    vendors = "".join(
        f"<VendorRet><ListID>80000{i:05d}-1</ListID><TimeCreated>2026-01-01T00:00:00-05:00</TimeCreated>"
        f"<TimeModified>2026-01-01T00:00:00-05:00</TimeModified><EditSequence>1</EditSequence>"
        f"<Name>Vendor {i}{'x' * pad}</Name><IsActive>true</IsActive></VendorRet>"
        for i in range(n)
    )
    return (
        f'<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRs><VendorQueryRs requestID="{request_id}" '
        f'statusCode="0" statusSeverity="Info" statusMessage="Status OK">{vendors}</VendorQueryRs></QBXMLMsgsRs></QBXML>'
    )


# --- finding 1: bounded work before authentication ------------------------------------


def test_f1_any_call_but_receive_response_is_refused_past_the_small_limit(qbwc: QbwcHarness) -> None:
    padded = envelope("authenticate", {"strUserName": "x", "strPassword": "p"}).replace(
        b"<strPassword>", b"<strPassword>" + b"A" * 20_000
    )
    status, content = post_from(qbwc.url, padded)
    assert status == 500 and b"limit" in content
    # A huge SOAP Header before the operation is refused the same way.
    header = envelope("serverVersion", {}).replace(
        b"<soap:Body>", b"<soap:Header>" + b"x" * 20_000 + b"</soap:Header><soap:Body>"
    )
    status, content = post_from(qbwc.url, header)
    assert status == 500 and b"limit" in content
    assert not LoginThrottle.objects.exists()


def test_f1_receive_response_with_an_unknown_ticket_is_answered_before_its_payload_is_parsed(qbwc: QbwcHarness) -> None:
    # Broken XML after the ticket: parsing the payload would fault; a ticket check first answers -1.
    body = envelope("receiveResponseXML", {"ticket": "made-up", "response": "R", "hresult": "", "message": ""})
    body = body.replace(b"<response>R", b"<response>" + b"A" * 100_000 + b"<broken")
    status, content = post_from(qbwc.url, body)
    assert status == 200, content[:200]
    assert result_of(content, "receiveResponseXML") == "-1"


def test_f1_envelope_element_and_depth_limits(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_MAX_CALL_BYTES = 1024 * 1024

    def server_version(inner: str) -> bytes:
        return (
            f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><serverVersion xmlns="{QB_NS}">{inner}'
            "</serverVersion></soap:Body></soap:Envelope>"
        ).encode()

    many = server_version("<a/>" * 200)
    status, content = post_from(qbwc.url, many)
    assert status == 500 and b"more than 64 elements" in content
    deep = server_version("<a>" * 10 + "</a>" * 10)
    status, content = post_from(qbwc.url, deep)
    assert status == 500 and b"deeper than 8" in content


# --- finding 3: throttling that cannot lock the customer out --------------------------


def test_f3_wrong_passwords_from_one_address_never_block_the_right_one_from_another(qbwc: QbwcHarness) -> None:
    for _ in range(12):
        assert authenticate(qbwc, "guess", source="127.0.0.2") == ["", "nvu"]
    assert authenticate(qbwc, source="127.0.0.2") == ["", "nvu"]  # that address is blocked
    ticket, status, _ = authenticate(qbwc, source="127.0.0.1")  # the real Web Connector
    assert ticket and status == ""


def test_f3_the_per_username_ceiling_spares_the_last_good_address(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_LOGIN_FAILURES_PER_USERNAME = 6
    ticket = authenticate(qbwc, source="127.0.0.1")[0]
    call(qbwc, "closeConnection", ticket=ticket)
    for i in range(8):  # spread over addresses, under the per-address limit
        authenticate(qbwc, "guess", source=f"127.0.1.{i % 4 + 1}")
    assert authenticate(qbwc, source="127.0.2.1") == ["", "nvu"]  # a new address: ceiling reached
    assert authenticate(qbwc, source="127.0.0.1")[1] == ""  # the tenant's own address still gets in


def test_f3_a_concurrent_burst_gets_exactly_the_limit_checked(qbwc: QbwcHarness, settings) -> None:
    limit = settings.QBWC_LOGIN_FAILURES_BEFORE_THROTTLE
    # 40 guesses, 8 in flight at once (the test server's listen queue is short).
    barrier = threading.Barrier(8)
    answers: list[list[str]] = []

    def guess() -> None:
        barrier.wait()
        for _ in range(5):
            answers.append(authenticate(qbwc, "guess", source="127.0.0.3"))

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [["", "nvu"]] * 40
    # A blocked attempt is neither checked nor counted: the count is the number checked.
    assert LoginThrottle.objects.get(username=qbwc.tenant.qbwc_username, address="127.0.0.3").failures == limit


# --- finding 4: revocation and an absolute TTL ---------------------------------------------


@pytest.mark.parametrize("change", ["password", "deactivate", "pause"])
def test_f4_a_ticket_dies_with_a_password_change_deactivation_or_pause(qbwc: QbwcHarness, change: str) -> None:
    ticket = open_session(qbwc)
    tenant = Tenant.objects.get(pk=qbwc.tenant.pk)
    if change == "password":
        services.tenant_qbwc_password_set(tenant=tenant, password="another-long-password-1")
    elif change == "deactivate":
        Tenant.objects.filter(pk=tenant.pk).update(active=False)
    else:
        Tenant.objects.filter(pk=tenant.pk).update(sync_paused=True)
    assert call(qbwc, "receiveResponseXML", ticket=ticket, response=vendor_answer(2), hresult="", message="") == "-1"
    assert not SyncRecord.objects.exists()
    assert call(qbwc, "getLastError", ticket=ticket) == UNKNOWN_TICKET
    assert QbwcSession.objects.get().state == SessionState.EXPIRED
    if change == "password":  # the new password opens a session at once: the old one is not "busy"
        assert authenticate(qbwc, "another-long-password-1")[1] == ""


def test_f4_get_last_error_does_not_extend_a_session(qbwc: QbwcHarness, settings) -> None:
    ticket = open_session(qbwc)
    started = timezone.now() - timedelta(seconds=settings.QBWC_SESSION_TTL_SECONDS - 2)
    QbwcSession.objects.update(started_at=started, last_seen_at=started)
    call(qbwc, "getLastError", ticket=ticket)  # seen now; the TTL counts from authenticate
    QbwcSession.objects.update(started_at=started - timedelta(seconds=5))
    assert call(qbwc, "getLastError", ticket=ticket) == UNKNOWN_TICKET
    assert authenticate(qbwc)[1] == ""  # not "busy"


# --- findings 6 and 7: clean faults, safe logs --------------------------------------------


@pytest.mark.parametrize(
    "method,params",
    [
        ("clientVersion", {"strVersion": "²"}),
        ("clientVersion", {"strVersion": "3.²"}),
    ],
)
def test_f7_superscript_digits_in_a_version_are_answered_not_crashed(
    qbwc: QbwcHarness, caplog: pytest.LogCaptureFixture, method: str, params: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO):
        assert call(qbwc, method, **params) == ""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_f7_superscript_qbxml_versions_in_send_request(qbwc: QbwcHarness, caplog: pytest.LogCaptureFixture) -> None:
    ticket = authenticate(qbwc)[0]
    with caplog.at_level(logging.INFO):
        request = call(
            qbwc,
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse="",
            strCompanyFileName="",
            qbXMLCountry="US",
            qbXMLMajorVers="²",
            qbXMLMinorVers="²",
        )
    assert "VendorQueryRq" in request
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_f7_a_client_fault_logs_no_error_and_no_traceback(qbwc: QbwcHarness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        status, _ = post_from(qbwc.url, b"not xml at all")
    assert status == 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info]
    assert any("refused a SOAP request" in r.getMessage() for r in caplog.records)


def test_f6_a_namespace_with_a_newline_cannot_forge_a_log_line(
    qbwc: QbwcHarness, caplog: pytest.LogCaptureFixture
) -> None:
    forged = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
        '<x xmlns="urn:a&#10;2026-12-01 00:00:00,000 INFO qbwc.login: qbwc session opened for tenant acme"/>'
        "</soap:Body></soap:Envelope>"
    ).encode()
    with caplog.at_level(logging.INFO):
        status, _ = post_from(qbwc.url, forged)
    assert status == 500
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("qbwc")]
    assert messages and all("\n" not in m and "\r" not in m for m in messages), messages
    assert any("\\n2026-12-01" in m for m in messages)


# --- finding 8: answers over the size limit or over MaxReturned ----------------------------


def test_f8_an_answer_over_the_size_limit_ends_the_session_cleanly(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_MAX_RESPONSE_BYTES = 50_000
    ticket = open_session(qbwc)
    answer = vendor_answer(200, pad=200)
    assert len(answer) > 50_000
    assert call(qbwc, "receiveResponseXML", ticket=ticket, response=answer, hresult="", message="") == "-1"
    error = call(qbwc, "getLastError", ticket=ticket)
    assert "refused" in error and "limit" in error
    assert not SyncRecord.objects.exists()
    assert QbwcSession.objects.get().state == SessionState.FAILED
    assert authenticate(qbwc)[1] == ""  # the next run is not "busy"


def test_f8_an_answer_past_libxml2s_text_limit_ends_the_session_cleanly(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_MAX_RESPONSE_BYTES = 9_500_000
    ticket = open_session(qbwc)
    answer = vendor_answer(1, pad=10_500_000)
    assert call(qbwc, "receiveResponseXML", ticket=ticket, response=answer, hresult="", message="") == "-1"
    assert "refused" in call(qbwc, "getLastError", ticket=ticket)
    assert authenticate(qbwc)[1] == ""


def test_f8_an_answer_with_more_records_than_max_returned_ends_the_session(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_MAX_RETURNED = 5
    ticket = open_session(qbwc)
    assert call(qbwc, "receiveResponseXML", ticket=ticket, response=vendor_answer(6), hresult="", message="") == "-1"
    error = call(qbwc, "getLastError", ticket=ticket)
    assert "6 records" in error and "MaxReturned" in error
    assert not SyncRecord.objects.exists()
    assert authenticate(qbwc)[1] == ""


# --- finding 11 / issue 11: credentials and statements ------------------------------------


def test_f11_authenticate_success_path_takes_at_most_three_statements(qbwc: QbwcHarness) -> None:
    from qbwc.login import session_authenticate

    with CaptureQueriesContext(connection) as queries:
        ticket, status, _ = session_authenticate(
            username=qbwc.tenant.qbwc_username, password=PASSWORD, client_address="127.0.0.1"
        )
    assert ticket and status == ""
    sql = [q["sql"] for q in queries.captured_queries]
    statements = [s for s in sql if not s.upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))]
    assert len(statements) <= 3, sql
    assert not [s for s in sql if s.upper().startswith("SAVEPOINT")]


def test_f11_anonymous_authenticate_costs_no_slow_hash(qbwc: QbwcHarness, settings) -> None:
    import time

    from django.contrib.auth.hashers import make_password

    from qbwc.login import session_authenticate

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    start = time.process_time()
    make_password("baseline")
    slow = time.process_time() - start
    start = time.process_time()
    for i in range(10):
        assert session_authenticate(username=f"nobody-{i}", password="x", client_address="127.0.0.9") == ["", "nvu"]
    per_call = (time.process_time() - start) / 10
    assert per_call < slow / 5, (per_call, slow)  # a ratio measured in the same run, not a timing
