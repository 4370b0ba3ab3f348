"""qbwc.soap is pure: envelopes in, calls out; results and faults rendered as QBWC expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from qbwc import soap

FIXTURES = Path(__file__).parent.parent / "fixtures" / "soap"
NS = {"s": soap.SOAP_ENV, "q": soap.QBWC_NS}


def test_a_captured_authenticate_parses_with_escaped_text_intact() -> None:
    call = soap.parse_call(
        (FIXTURES / "authenticate.xml").read_bytes(),
        max_bytes=100_000,
        soap_action='"http://developer.intuit.com/authenticate"',
    )
    assert call.method == "authenticate"
    assert call.params == {"strUserName": "acme-qbwc", "strPassword": 'p&ss "wörd"'}


def test_an_empty_response_element_with_an_hresult_parses() -> None:
    call = soap.parse_call((FIXTURES / "receiveResponseXML_hresult.xml").read_bytes(), max_bytes=100_000)
    assert call.method == "receiveResponseXML"
    assert call.response == b"" and call.get("hresult") == "0x80040400"


def test_the_first_send_request_carries_the_host_response_as_text() -> None:
    call = soap.parse_call((FIXTURES / "sendRequestXML_first.xml").read_bytes(), max_bytes=100_000)
    assert call.get("strHCPResponse").lstrip().startswith("<?xml")
    assert call.get("qbXMLMajorVers") == "14"
    assert call.get("strCompanyFileName").endswith("Keystone.QBW")


def test_an_array_result_is_array_of_string() -> None:
    out = etree.fromstring(soap.render_result("authenticate", ["tkt", "", "900"]))
    result = out.find("s:Body/q:authenticateResponse/q:authenticateResult", NS)
    assert result is not None
    assert [s.text or "" for s in result.findall("q:string", NS)] == ["tkt", "", "900"]


def test_an_int_result_and_escaping() -> None:
    out = soap.render_result("sendRequestXML", '<?xml version="1.0"?><QBXML>&</QBXML>')
    assert b"&lt;QBXML&gt;&amp;&lt;/QBXML&gt;" in out
    root = etree.fromstring(soap.render_result("receiveResponseXML", -1))
    assert root.findtext("s:Body/q:receiveResponseXMLResponse/q:receiveResponseXMLResult", namespaces=NS) == "-1"


def test_a_fault_is_soap_1_1_shaped() -> None:
    root = etree.fromstring(soap.render_fault(soap.SoapFault("boom", client=False)))
    fault = root.find("s:Body/s:Fault", NS)
    assert fault is not None
    assert (fault.findtext("faultcode"), fault.findtext("faultstring")) == ("soap:Server", "boom")


@pytest.mark.parametrize("name", ["xxe_file.xml", "billion_laughs.xml", "xxe_parameter_entity.xml"])
def test_dtds_are_refused(name: str) -> None:
    with pytest.raises(soap.SoapFault, match="document type"):
        soap.parse_call((FIXTURES / name).read_bytes(), max_bytes=100_000)


def test_two_operations_in_one_body_are_refused() -> None:
    body = (
        (FIXTURES / "authenticate.xml")
        .read_bytes()
        .replace(b"</soap:Body>", b'<closeConnection xmlns="http://developer.intuit.com/"/></soap:Body>')
    )
    with pytest.raises(soap.SoapFault, match="exactly one"):
        soap.parse_call(body, max_bytes=100_000)
