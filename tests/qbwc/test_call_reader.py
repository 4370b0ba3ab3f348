"""PURE: the streamed SOAP reader, the qbXML answer limits and log-safe text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

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


def test_the_answer_arrives_as_its_utf8_with_entities_and_non_latin1_text_intact() -> None:
    escaped = "&lt;QBXML&gt;&lt;Memo&gt;Smith\u2019s &amp;amp; Co &#x1F4B0; caf\u00e9&lt;/Memo&gt;&lt;/QBXML&gt;"
    body = receive(escaped * 3000)
    reader = soap.CallReader(limits=soap.Limits())
    for i in range(0, len(body), 1000):  # entities and characters split across chunks
        reader.feed(body[i : i + 1000])
    call = reader.close()
    expected = "<QBXML><Memo>Smith\u2019s &amp; Co \U0001f4b0 caf\u00e9</Memo></QBXML>" * 3000
    assert call.response == expected.encode() and call.params == {"ticket": "T-1", "hresult": "", "message": ""}


def test_a_parameter_is_its_text_before_any_child_and_a_repeat_is_dropped() -> None:
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><receiveResponseXML xmlns="{QB_NS}">'
        "<ticket>T-1<b>child</b>after</ticket>tail<ticket>T-2</ticket><response>R<x/>S</response>"
        "<response>again</response><hresult/><message>m</message></receiveResponseXML></soap:Body></soap:Envelope>"
    ).encode()
    call = soap.parse_call(body, max_bytes=100_000)
    assert call.params == {"ticket": "T-1", "hresult": "", "message": "m"} and call.response == b"R"


def test_text_outside_the_parameters_is_counted_and_refused_past_the_small_limit() -> None:
    lim = soap.Limits(small_bytes=4096)
    spaced = receive("R").replace(b"<hresult/>", b"<hresult/>" + b" " * 5000)
    with pytest.raises(soap.SoapFault, match="outside the parameters is over the 4096-byte limit"):
        soap.parse_call(spaced, max_bytes=100_000, limits=lim)
    # A real envelope's whitespace is well within it.
    assert soap.parse_call(receive("R").replace(b"><", b">\r\n  <"), max_bytes=100_000, limits=lim).response == b"R"


def test_a_huge_ticket_is_refused_as_soon_as_it_passes_the_limit_not_when_it_ends() -> None:
    reader = soap.CallReader(limits=soap.Limits(small_bytes=4096))
    head = receive("R").split(b"T-1")[0]
    reader.feed(head)
    with pytest.raises(soap.SoapFault, match="ticket is over the 4096-byte limit"):
        reader.feed(b"\xc3\xa9" * 2100)  # 2100 characters, 4200 bytes of UTF-8: the limit counts bytes


def test_the_answer_is_refused_as_soon_as_its_utf8_passes_the_limit() -> None:
    lim = soap.Limits(response_bytes=100_000)
    body = receive("\u2019" * 40_000)  # 40 000 characters, 120 000 bytes
    reader = soap.CallReader(limits=lim)
    with pytest.raises(soap.SoapFault, match="response is over the 100000-byte limit"):
        reader.feed(body[: len(body) - 1000])  # refused before the envelope has ended
    assert (
        soap.parse_call(receive("\u2019" * 33_000), max_bytes=200_000, limits=lim).response
        == "\u2019".encode() * 33_000
    )


def test_the_parser_keeps_nothing_of_the_text_once_the_call_is_read_or_refused() -> None:
    """A fed lxml parser and its target are freed only by a garbage collection (a reference
    cycle), so the target must let go of the text itself, or each page would stay until then."""
    reader = soap.CallReader(limits=soap.Limits())
    reader.feed(receive("A" * 100_000))
    call = reader.close()
    held = reader._target  # what the parser keeps until a collection
    assert call.response == b"A" * 100_000 and call.params["ticket"] == "T-1"
    assert held.response == b"" and held._answer is None and held.params == {"ticket": "T-1"}
    broken = soap.CallReader(limits=soap.Limits())
    with pytest.raises(soap.SoapFault, match="well-formed"):
        broken.feed(receive("A" * 100_000).replace(b"</response>", b"</respons>"))
    assert broken._target._answer is None and broken.ticket == "T-1"  # the ticket stays known (views.read_call)
    early = soap.CallReader(limits=soap.Limits())
    early.feed(receive("A" * 100_000)[:50_000])
    early.release()  # a caller that stops reading (an unknown ticket)
    assert early._target._answer is None and early.ticket == "T-1"


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
    # The endpoint's answer is its UTF-8: the same counts, its size in bytes.
    assert answer_refusal(five.encode(), step="vendors", max_chars=10_000, max_records=5) == ""
    assert "6 records" in answer_refusal(
        (five + "<VendorRet\t/>").encode(), step="vendors", max_chars=10_000, max_records=5
    )
    assert "is 6 bytes, over the 5-byte limit" in answer_refusal(
        "caf\u00e9!".encode(), step="vendors", max_chars=5, max_records=5
    )
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


# Text XML allows (Char), with what an escaped answer holds most: markup characters, line ends,
# Latin-1, the BMP beyond it and astral characters.
_XML_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("<>&\"'\r\n\t ]QBXML/=")),
        st.characters(min_codepoint=0x20, max_codepoint=0xD7FF),
        st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
        st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
    ),
    max_size=300,
)


def _escaped(text: str, refs: list[bool]) -> str:
    """`text` as a client may escape it: named entities, or (where `refs` says) character references."""
    out = []
    for i, ch in enumerate(text):
        if refs[i % len(refs)] or ch == "\r":  # a literal CR would be a line end, so a reference
            out.append(f"&#{ord(ch)};" if i % 2 else f"&#x{ord(ch):X};")
        else:
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}.get(ch, ch))
    return "".join(out).replace("]]>", "]]&gt;")


@settings(max_examples=200, deadline=None)
@given(text=_XML_TEXT, refs=st.lists(st.booleans(), min_size=1, max_size=7), chunk=st.integers(1, 97),
       literal_newlines=st.sampled_from(["\n", "\r\n", "\r"]))  # fmt: skip
def test_the_answer_reads_as_libxml2_reads_the_same_envelope(
    text: str, refs: list[bool], chunk: int, literal_newlines: str
) -> None:
    """Differential: the streamed reader (expat, fed in chunks of any size) gives the answer's
    UTF-8 exactly as lxml's tree gives the response element's text, line ends normalised alike."""
    body = receive(_escaped(text, refs) + literal_newlines + "end")
    reader = soap.CallReader(limits=soap.Limits(max_bytes=10**6, response_bytes=10**6))
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    call = reader.close()
    expected = etree.fromstring(body).find(f".//{{{QB_NS}}}response").text or ""  # type: ignore[union-attr]
    assert call.response == expected.encode("utf-8")
    assert call.response.endswith(b"\nend")


def test_a_huge_piece_of_markup_is_refused_before_expat_reparses_it_to_death() -> None:
    """A comment (or tag) over QUIET_BYTES in a live session's answer: refused while it arrives."""
    head = receive("&lt;QBXML&gt;").split(b"</response>")[0]
    reader = soap.CallReader(limits=soap.Limits(max_bytes=50 * 1024 * 1024))
    reader.feed(head + b"<!--")
    with pytest.raises(soap.SoapFault, match="piece of markup over"):
        for _ in range(soap.QUIET_BYTES // 65536 + 2):
            reader.feed(b"x" * 65536)


def test_entity_dense_text_is_not_mistaken_for_one_piece_of_markup() -> None:
    """Text is handed over every TEXT_BUFFER characters: 4 MB of entities is ~0.7 M characters."""
    escaped = "&lt;&gt;&amp;&#x1F4B0;" * 200_000
    body = receive(escaped)
    reader = soap.CallReader(limits=soap.Limits(max_bytes=50 * 1024 * 1024, response_bytes=10**7))
    for i in range(0, len(body), 65536):
        reader.feed(body[i : i + 65536])
    assert reader.close().response == "<>&\U0001f4b0".encode() * 200_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "document type"),
        (receive("&undefined;"), "undefined entity"),
        (receive("&#0;"), "well-formed"),
        (receive("a]]>b"), "well-formed"),
        (receive("\x01"), "well-formed"),
        (b'<?xml version="1.0" encoding="x-no-such-codec"?><a/>', "not acceptable XML"),
        (b'<?xml version="1.0" encoding="shift_jis"?><a/>', "not acceptable XML"),
    ],
)
def test_what_expat_refuses_is_a_client_fault(body: bytes, message: str) -> None:
    reader = soap.CallReader(limits=soap.Limits())
    with pytest.raises(soap.SoapFault, match=message):
        reader.feed(body)
        reader.close()
