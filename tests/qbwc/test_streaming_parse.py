"""The streaming qbXML reader (qbxml.ResponseReader) answers exactly as reading the whole tree did.

`tree_parse` is the parse the endpoint used before it streamed (the whole page as one lxml
tree, then every record): the reference the reader is checked against, on fixtures, on
pages whose records straddle the reader's feed slices, and on the fuzzer's random answers.
"""

from __future__ import annotations

from decimal import InvalidOperation
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc import qbxml, xmlsafe
from qbwc.xmlsafe import UnsafeXml, parse_text
from tests.qbwc.test_fuzz import MAX, fuzz, qbxml_responses

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "qbxml"
KINDS = ["vendors", "bills", "bill_deletions", "vendor_deletions"]


def tree_parse(text: str, kind: qbxml.QueryKind, *, max_bytes: int) -> qbxml.QueryResponse:
    """The whole-tree parse (the reference)."""
    try:
        root = parse_text(text, max_bytes=max_bytes)
    except UnsafeXml as exc:
        raise qbxml.QbxmlError(str(exc)) from None
    rs_tag, ret_tag = qbxml._SHAPES[kind]
    if root.tag != "QBXML" or root.find("QBXMLMsgsRs") is None:
        raise qbxml.QbxmlError(f"expected <QBXML><QBXMLMsgsRs>, got <{root.tag}>")
    responses = [n for n in root.find("QBXMLMsgsRs") if isinstance(n.tag, str)]  # type: ignore[union-attr]
    if len(responses) != 1 or responses[0].tag != rs_tag:
        got = ", ".join(str(n.tag) for n in responses) or "nothing"
        raise qbxml.QbxmlError(f"expected one {rs_tag}, got {got}")
    rs = responses[0]
    code = rs.get("statusCode")
    if code is None or not code.strip().lstrip("-").isdigit():
        raise qbxml.QbxmlError(f"{rs_tag} has no numeric statusCode")
    if len(code.strip()) > 9:
        raise qbxml.QbxmlError(f"{rs_tag} statusCode {code[:20]!r} is out of range")
    remaining_raw = rs.get("iteratorRemainingCount")
    try:
        remaining = int(remaining_raw) if remaining_raw is not None else None
    except ValueError:
        raise qbxml.QbxmlError(f"iteratorRemainingCount {remaining_raw!r} is not a number") from None
    if remaining is not None and remaining < 0:
        raise qbxml.QbxmlError(f"iteratorRemainingCount {remaining} is negative")
    parse_one = qbxml._PARSERS[kind]
    records: list[qbxml.Record] = []
    for child in rs:
        if not isinstance(child.tag, str):
            continue
        if child.tag != ret_tag:
            raise qbxml.QbxmlError(f"{rs_tag} holds an unexpected <{child.tag}>")
        try:
            records.append(parse_one(child))
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise qbxml.QbxmlError(f"{ret_tag} #{len(records) + 1}: {exc}") from None
    return qbxml.QueryResponse(
        request_id=rs.get("requestID", ""),
        status_code=code.strip(),
        status_severity=rs.get("statusSeverity", ""),
        status_message=rs.get("statusMessage", ""),
        iterator_id=rs.get("iteratorID", ""),
        iterator_remaining=remaining,
        records=tuple(records),
    )


WELL_FORMED = "not well-formed XML: "


def outcome(parse: object, text: str, kind: str) -> object:
    """The parse, or its error. libxml2 words a syntax error differently when it is fed in slices
    ("Couldn't find end of Start Tag X, line 1" vs "... X line 1, line 1"): those compare as the
    same refusal; every other message must be the same text."""
    try:
        return parse(text, kind, max_bytes=MAX)  # type: ignore[operator]
    except qbxml.QbxmlError as exc:
        message = str(exc)
        return ("error", WELL_FORMED if message.startswith(WELL_FORMED) else message)


def from_utf8(text: str, kind: qbxml.QueryKind, *, max_bytes: int) -> qbxml.QueryResponse:
    """The endpoint's path: the answer's UTF-8, as soap.SoapCall.response carries it."""
    return qbxml.parse_response(text.encode("utf-8"), kind, max_bytes=max_bytes)


def assert_same(text: str, kind: str) -> None:
    reference = outcome(tree_parse, text, kind)
    assert outcome(qbxml.parse_response, text, kind) == reference
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 to read (lxml never decodes one)
        return
    assert outcome(from_utf8, text, kind) == reference


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.xml")), ids=lambda p: p.name)
@pytest.mark.parametrize("kind", KINDS)
def test_every_fixture_reads_as_the_whole_tree_does(path: Path, kind: str) -> None:
    raw = path.read_bytes()
    assert_same(raw.decode("cp1252" if b"windows-1252" in raw[:100] else "utf-8"), kind)


def big_page(bills: int) -> str:
    request = qbxml.build_query("bills", request_id="2", version="16.0", since=None, max_returned=bills)
    return FakeCompany(build(bills=bills, vendors=5, changes=False)).process(request).response


def test_a_page_larger_than_many_feed_slices_reads_the_same_in_batches() -> None:
    text = big_page(600)
    assert len(text) > 5 * xmlsafe.SLICE_CHARS  # records straddle slice boundaries
    reference = tree_parse(text, "bills", max_bytes=MAX)
    reader = qbxml.ResponseReader(text, "bills", max_bytes=MAX)
    head = reader.head()
    assert head.has_records and head.status_code == reference.status_code
    batches = list(reader.batches(64))
    assert [len(b) for b in batches] == [64] * 9 + [600 - 9 * 64]
    assert tuple(r for b in batches for r in b) == reference.records
    assert reader.records == 600


def test_the_tree_never_holds_the_page() -> None:
    """Each record's subtree is dropped once read: the tree keeps a handful of elements at any time."""
    text = big_page(300)
    reader = qbxml.ResponseReader(text, "bills", max_bytes=MAX)
    held: list[int] = []
    for _ in reader.batches(10):
        assert reader._rs is not None
        held.append(len(list(reader._rs.getroottree().iter())))
    assert reader.records == 300
    # One bill here is ~25 elements; a feed slice holds a few dozen bills not yet read.
    assert max(held) < 2000, held
    assert held[-1] < 10, held


@pytest.mark.parametrize("n", [1, 250, 600])
def test_a_bad_record_n_is_reported_after_the_good_ones_were_yielded(n: int) -> None:
    text = big_page(600)
    # Break the n-th bill's amount: a parse error mid-page, found only when that record is read.
    starts = [i for i in range(len(text)) if text.startswith("<BillRet>", i)]
    cut = text.index("<AmountDue>", starts[n - 1]) + len("<AmountDue>")
    broken = text[:cut] + "x" + text[cut:]
    reader = qbxml.ResponseReader(broken, "bills", max_bytes=MAX)
    yielded = 0
    with pytest.raises(qbxml.QbxmlError, match=f"BillRet #{n}: "):
        for batch in reader.batches(100):
            yielded += len(batch)
    assert yielded <= max(n - 1, 0) and yielded >= (n - 1) // 100 * 100 - 100
    assert outcome(qbxml.parse_response, broken, "bills") == outcome(tree_parse, broken, "bills")


def test_a_syntax_error_after_a_bad_record_wins_as_it_did() -> None:
    text = big_page(50)
    first = text.index("<AmountDue>") + len("<AmountDue>")
    broken = text[:first] + "x" + text[first:]
    broken = broken.replace("</QBXML>", "</QBXM>")
    assert "not well-formed" in str(outcome(qbxml.parse_response, broken, "bills"))
    assert_same(broken, "bills")


def test_a_second_response_after_the_records_refuses_the_page() -> None:
    text = big_page(50).replace("</QBXMLMsgsRs>", "<VendorQueryRs statusCode='0'/></QBXMLMsgsRs>")
    with pytest.raises(qbxml.QbxmlError, match="expected one BillQueryRs, got BillQueryRs, VendorQueryRs"):
        list(qbxml.ResponseReader(text, "bills", max_bytes=MAX).batches(10))
    assert_same(text, "bills")


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff\ufeff  <?xml version='1.0' encoding='windows-1252'?><QBXML><QBXMLMsgsRs><BillQueryRs statusCode='1'/></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'/></QBXMLMsgsRs><QBXMLMsgsRs><VendorQueryRs/></QBXMLMsgsRs></QBXML>",
        "<QBXML><Other/><QBXMLMsgsRs><?pi x?><!-- c --><BillQueryRs statusCode='0'><?pi?></BillQueryRs></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><VendorRet/><BillRet/></BillQueryRs></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='x' iteratorRemainingCount='-1'/></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0' iteratorRemainingCount='-1'/></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><BillRet/></BillQueryRs><BillQueryRs/></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><BillRet/></BillQueryRs></QBXMLMsgsRs></QBXML><!DOCTYPE x>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'>&x;</BillQueryRs></QBXMLMsgsRs></QBXML>",
        "<!-- x --><QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'></BillQueryRs></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><BillRet><BillRet/></BillRet></BillQueryRs></QBXMLMsgsRs></QBXML>",
        "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'></BillQueryRs></QBXMLMsgsRs></QBXML><!ENTİTY>",
        "",
        "   ",
        "<QBXML>",
    ],
)
def test_edge_shapes_read_as_the_whole_tree_does(text: str) -> None:
    for kind in KINDS:
        assert_same(text, kind)


def test_the_size_cap_counts_utf8_bytes_as_before() -> None:
    text = "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='1' statusMessage='" + "é" * 600 + "'/></QBXMLMsgsRs></QBXML>"
    size = len(text.encode())
    for cap in (size - 1, size):
        try:
            streamed: object = qbxml.parse_response(text, "bills", max_bytes=cap)
        except qbxml.QbxmlError as exc:
            streamed = str(exc)
        try:
            whole: object = tree_parse(text, "bills", max_bytes=cap)
        except qbxml.QbxmlError as exc:
            whole = str(exc)
        try:
            utf8: object = from_utf8(text, "bills", max_bytes=cap)
        except qbxml.QbxmlError as exc:
            utf8 = str(exc)
        assert streamed == whole == utf8


@pytest.mark.parametrize("prefix", ["", "\ufeff", "\ufeff\ufeff", '<?xml version="1.0" encoding="windows-1252"?>\n',
                                    '\ufeff <?xml version="1.0"?>'])  # fmt: skip
def test_utf8_answers_skip_the_same_marks_and_declaration_as_text(prefix: str) -> None:
    page = big_page(3)
    text = prefix + page[xmlsafe.document_start(page) :]
    assert xmlsafe.document_start(text.encode()) == len(text[: xmlsafe.document_start(text)].encode())
    assert from_utf8(text, "bills", max_bytes=MAX) == qbxml.parse_response(text, "bills", max_bytes=MAX)


def test_a_utf8_answer_is_fed_in_slices_without_a_copy_of_the_page() -> None:
    data = big_page(600).encode()
    slices = list(xmlsafe.utf8_slices(data))
    assert len(slices) > 5 and b"".join(slices) == data
    assert all(len(piece) <= xmlsafe.SLICE_CHARS for piece in slices)


@fuzz(1500)
@given(qbxml_responses(), st.sampled_from(KINDS))
def test_random_answers_read_as_the_whole_tree_does(text: str, kind: str) -> None:
    assert_same(text, kind)
