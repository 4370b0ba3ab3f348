"""Bad input gets a SOAP fault or a clear QBWC answer, and stores nothing."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from audit.models import PushJob, RecordKind, SyncEvent, SyncRecord
from peers.qbwc_simulator.client import WebConnector, envelope
from peers.qbwc_simulator.company import Faults
from qbwc.models import LoginThrottle, QbwcSession, RawResponse, SessionState, Watermark
from tests.factories import PASSWORD
from tests.harness_qbwc import QbwcHarness

FIXTURES = __import__("pathlib").Path(__file__).parent.parent / "fixtures"


def _post(qbwc: QbwcHarness, body: bytes, action: str = "") -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action:
        headers["SOAPAction"] = f'"http://developer.intuit.com/{action}"'
    return requests.post(qbwc.url, data=body, headers=headers, timeout=30)


def _fault(response: requests.Response) -> str:
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    fault = root.find(
        "{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://schemas.xmlsoap.org/soap/envelope/}Fault"
    )
    assert fault is not None
    assert fault.findtext("faultcode") == "soap:Client"
    return fault.findtext("faultstring") or ""


def _nothing_stored() -> None:
    assert not SyncRecord.objects.exists()
    assert not SyncEvent.objects.exists()
    assert not PushJob.objects.exists()
    assert not RawResponse.objects.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>", "well-formed"),
        (b"", "well-formed"),
        (b"not xml at all", "well-formed"),
        (b"<Envelope/>", "SOAP 1.1 Envelope"),
        (envelope("dropTables", {"ticket": "x"}), "unknown operation"),
        (
            envelope("authenticate", {}).replace(b"http://developer.intuit.com/", b"http://example.com/"),
            "unknown operation",
        ),
    ],
)
def test_malformed_or_unknown_calls_get_a_client_fault(qbwc: QbwcHarness, body: bytes, expected: str) -> None:
    assert expected in _fault(_post(qbwc, body))
    assert not QbwcSession.objects.exists()
    _nothing_stored()


def test_a_soap_action_that_contradicts_the_body_is_refused(qbwc: QbwcHarness) -> None:
    body = envelope("authenticate", {"strUserName": qbwc.tenant.qbwc_username, "strPassword": PASSWORD})
    assert "does not match" in _fault(_post(qbwc, body, action="closeConnection"))
    assert not QbwcSession.objects.exists()


def test_an_oversized_body_is_refused_before_parsing(qbwc: QbwcHarness, settings) -> None:
    settings.QBWC_MAX_BODY_BYTES = 4096
    body = envelope("authenticate", {"strUserName": "x" * 5000, "strPassword": PASSWORD})
    assert "limit" in _fault(_post(qbwc, body))
    # Chunked (no Content-Length): Django reads no body at all, so it is refused too.
    response = requests.post(
        qbwc.url, data=iter([body[:3000], body[3000:]]), headers={"Content-Type": "text/xml"}, timeout=30
    )
    _fault(response)
    assert not LoginThrottle.objects.exists()


@pytest.mark.parametrize("name", ["xxe_file.xml", "billion_laughs.xml", "xxe_parameter_entity.xml"])
def test_entity_tricks_in_the_envelope_are_refused(qbwc: QbwcHarness, name: str) -> None:
    body = (FIXTURES / "soap" / name).read_bytes()
    assert "document type" in _fault(_post(qbwc, body))
    assert not LoginThrottle.objects.exists()
    assert not QbwcSession.objects.exists()


def _open_session(qbwc: QbwcHarness) -> tuple[WebConnector, str]:
    connector = qbwc.connector(qbwc.company())
    ticket = connector.call("authenticate", strUserName=qbwc.tenant.qbwc_username, strPassword=PASSWORD)[0]
    request = connector.call(
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert "VendorQueryRq" in request
    return connector, ticket


@pytest.mark.parametrize("name", ["xxe_response.xml", "billion_laughs_response.xml"])
def test_entity_tricks_inside_a_qbxml_response_fail_the_session(qbwc: QbwcHarness, name: str) -> None:
    connector, ticket = _open_session(qbwc)
    response = (FIXTURES / "qbxml" / name).read_text()
    assert connector.call("receiveResponseXML", ticket=ticket, response=response, hresult="", message="") == "-1"
    assert "document type" in connector.call("getLastError", ticket=ticket)
    assert QbwcSession.objects.get().state == SessionState.FAILED
    _nothing_stored()


@pytest.mark.parametrize(
    "faults",
    [
        Faults(malformed={"BillQueryRq"}),
        Faults(unexpected_shape={"BillQueryRq"}),
    ],
    ids=["malformed", "unexpected-shape"],
)
def test_an_unreadable_bill_response_fails_the_run_and_stores_no_bill(qbwc: QbwcHarness, faults: Faults) -> None:
    result = qbwc.run(qbwc.company(faults=faults))
    assert result.outcome == "error"
    assert result.progress[-1] == -1
    assert "response we cannot read" in result.last_error
    assert result.calls[-2:] == ["getLastError", "closeConnection"]
    assert not SyncRecord.objects.filter(kind=RecordKind.BILL).exists()
    assert not Watermark.objects.filter(query="bills").exists()
    session = QbwcSession.objects.get()
    assert session.state == SessionState.FAILED
    assert session.responses.filter(step="bills").count() == 0


def test_a_record_missing_its_id_is_an_unexpected_shape(qbwc: QbwcHarness) -> None:
    connector, ticket = _open_session(qbwc)
    response = (FIXTURES / "qbxml" / "vendor_query_missing_listid.xml").read_text()
    assert connector.call("receiveResponseXML", ticket=ticket, response=response, hresult="", message="") == "-1"
    assert "missing ListID" in connector.call("getLastError", ticket=ticket)
    _nothing_stored()


def test_quickbooks_failing_to_parse_our_request_is_reported(qbwc: QbwcHarness) -> None:
    result = qbwc.run(qbwc.company(faults=Faults(parse_error={"VendorQueryRq"})))
    assert result.outcome == "error"
    assert "0x80040400" in result.last_error
    session = QbwcSession.objects.get()
    assert session.hresult == "0x80040400"
    _nothing_stored()


def test_a_qbxml_error_stops_its_step_and_the_rest_of_the_plan_runs(qbwc: QbwcHarness) -> None:
    faults = Faults(qbxml_error={"BillQueryRq": ("3100", 'The name "x" of the list element is already in use.')})
    result = qbwc.run(qbwc.company(faults=faults))
    assert result.outcome == "done"
    assert "bills stopped: QuickBooks status 3100" in result.close_message
    assert not SyncRecord.objects.filter(kind=RecordKind.BILL).exists()
    assert SyncRecord.objects.filter(kind=RecordKind.VENDOR).exists()
    assert not Watermark.objects.filter(query="bills").exists()
    assert Watermark.objects.filter(query="bill_deletions").exists()
    assert "3100" in QbwcSession.objects.get().last_error


def test_a_qbxml_warning_is_recorded_and_the_step_goes_on(qbwc: QbwcHarness) -> None:
    faults = Faults(qbxml_warning={"VendorQueryRq": ("530", "Some records were skipped.")})
    result = qbwc.run(qbwc.company(faults=faults))
    assert result.outcome == "done"
    session = QbwcSession.objects.get()
    assert session.warnings == 1
    assert session.step_errors == [
        {"step": "vendors", "severity": "warn", "text": "QuickBooks status 530: Some records were skipped."}
    ]
    assert SyncRecord.objects.filter(kind=RecordKind.VENDOR).count() == 8
    assert Watermark.objects.filter(query="vendors").exists()


def test_a_connection_error_is_recorded_and_answered_done(qbwc: QbwcHarness) -> None:
    faults = Faults(connection_error=("0x80040408", "Could not start QuickBooks."))
    result = qbwc.run(qbwc.company(faults=faults))
    assert result.calls[-2:] == ["connectionError", "closeConnection"]
    session = QbwcSession.objects.get()
    assert session.state == SessionState.FAILED
    assert session.hresult == "0x80040408"
    assert "Could not start QuickBooks" in session.last_error
    assert "failed" in result.close_message
    _nothing_stored()


def test_interactive_calls_are_answered_sanely(qbwc: QbwcHarness) -> None:
    connector, ticket = _open_session(qbwc)
    assert connector.call("getInteractiveURL", wcTicket=ticket, sessionID="1") == ""
    assert connector.call("interactiveDone", wcTicket=ticket) == "Done"
    assert "not used" in connector.call("interactiveRejected", wcTicket=ticket, reason="user said no")


def test_a_quickbooks_without_a_shared_qbxml_version_gets_a_clear_error(qbwc: QbwcHarness) -> None:
    company = qbwc.company()
    company.data.qbxml_versions = ["1.0", "2.0", "3.0"]
    result = qbwc.run(company)
    assert result.outcome == "error"
    assert result.requests == []
    assert "QuickBooks offers qbXML 1.0, 2.0, 3.0" in result.last_error
    assert QbwcSession.objects.get().state == SessionState.FAILED
    _nothing_stored()


def test_a_retried_send_request_gets_the_same_request_again(qbwc: QbwcHarness) -> None:
    connector, ticket = _open_session(qbwc)
    again = connector.call(
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert 'requestID="1"' in again and "VendorQueryRq" in again
    assert QbwcSession.objects.get().request_seq == 1
