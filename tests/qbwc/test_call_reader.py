"""PURE: the streamed SOAP reader, the qbXML answer limits and log-safe text."""

from __future__ import annotations

import pytest

from qbwc import soap
from qbwc.answer_limits import answer_refusal
from qbwc.logtext import printable

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
QB_NS = "http://developer.intuit.com/"


def receive(response: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><receiveResponseXML xmlns="{QB_NS}">'
        f"<ticket>T-1</ticket><response>{response}</response><hresult/><message/>"
        "</receiveResponseXML></soap:Body></soap:Envelope>"
    ).encode()


def test_the_ticket_is_known_before_the_response_has_arrived() -> None:
    body = receive("A" * 200_000)
    reader = soap.CallReader(limits=soap.Limits())
    reader.feed(body[:1000])
    assert reader.method == "receiveResponseXML" and reader.ticket == "T-1"
    assert "response" not in reader.params
    reader.feed(body[1000:])
    call = reader.close()
    assert call.response == b"A" * 200_000 and "response" not in call.params


def test_a_doctype_split_across_chunks_is_still_refused() -> None:
    reader = soap.CallReader(limits=soap.Limits())
    with pytest.raises(soap.SoapFault, match="document type"):
        reader.feed(b"<!DOC")
        reader.feed(b"TYPE x []><x/>")


def test_operations_other_than_receive_are_capped_small() -> None:
    reader = soap.CallReader(limits=soap.Limits(small_bytes=2048))
    head = f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><authenticate xmlns="{QB_NS}"><strUserName>'
    with pytest.raises(soap.SoapFault, match="2048-byte limit"):
        reader.feed(head.encode() + b"x" * 4000)


def test_answer_limits_count_records_against_max_returned() -> None:
    five = "<VendorRet><ListID>1</ListID></VendorRet>" * 5
    assert answer_refusal(five, step="vendors", max_chars=10_000, max_records=5) == ""
    assert "6 records" in answer_refusal(five + "<VendorRet/>", step="vendors", max_chars=10_000, max_records=5)
    assert "over the 10-character limit" in answer_refusal(five, step="vendors", max_chars=10, max_records=5)
    # Deletion queries carry no MaxReturned: only the size counts.
    assert answer_refusal("<TxnDeletedRet/>" * 9, step="bill_deletions", max_chars=10_000, max_records=5) == ""


def test_printable_escapes_control_characters_and_cuts_long_text() -> None:
    assert printable("a\nb\r\x1b[31m\u2028") == "a\\nb\\r\\x1b[31m\\u2028"
    assert printable("x" * 400).endswith("…(+100 chars)")


def test_found_by_fuzzing_an_undeclared_prefix_is_a_client_fault_not_a_crash() -> None:
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><ns:thing xmlns="{QB_NS}"></ns:thing>'
        "</soap:Body></soap:Envelope>"
    ).encode()
    with pytest.raises(soap.SoapFault):
        soap.parse_call(body, max_bytes=100_000)
