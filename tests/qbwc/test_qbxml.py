# ruff: noqa: RUF001  (QuickBooks text carries typographic punctuation on purpose)
"""qbwc.qbxml is pure: fixtures in, dataclasses out."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from audit.qbtypes import QbBill, QbDeletion, QbVendor
from peers.qbwc_simulator.company import REQUEST_ORDER, FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc import qbxml

FIXTURES = Path(__file__).parent.parent / "fixtures" / "qbxml"
MAX = 10_000_000


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_a_vendor_keeps_every_character_and_its_offsets() -> None:
    rs = qbxml.parse_response(fixture("vendor_query_rs.xml"), "vendors", max_bytes=MAX)
    assert (rs.status_code, rs.iterator_remaining) == ("0", 12)
    assert rs.iterator_id == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    (vendor,) = rs.records
    assert isinstance(vendor, QbVendor)
    assert vendor.name == 'O\'Brien "Sparky" Electric & Sons'
    assert vendor.last_name == "O’Brien" and vendor.first_name == "Zoë"
    assert vendor.is_active is False
    assert vendor.time_modified == datetime(2025, 7, 14, 16, 2, 11, tzinfo=timezone(timedelta(hours=-4)))
    assert vendor.time_modified.utcoffset() == timedelta(hours=-4)
    assert vendor.balance == Decimal("12345.67")
    assert vendor.address is not None and vendor.address.addr1 == "Łukasz Building"
    assert (vendor.vendor_type, vendor.terms) == ("Subcontractors", "Net 30")


def test_a_bill_reads_expense_item_and_group_lines_as_decimal() -> None:
    rs = qbxml.parse_response(fixture("bill_query_rs.xml"), "bills", max_bytes=MAX)
    (bill,) = rs.records
    assert isinstance(bill, QbBill)
    assert bill.amount_due == Decimal("10501.10") and isinstance(bill.amount_due, Decimal)
    assert bill.txn_date == date(2025, 11, 1)
    assert bill.ref_number == "INV-0042 <rev>"
    assert bill.memo == "Change order #3 – extra work ‘weekend’"
    # The DST change night: the same wall time, two offsets, both kept.
    assert bill.time_created is not None and bill.time_created.utcoffset() == timedelta(hours=-4)
    assert bill.time_modified is not None and bill.time_modified.utcoffset() == timedelta(hours=-5)
    kinds = [(line.kind, line.amount, line.customer_full_name) for line in bill.lines]
    assert kinds == [
        ("expense", Decimal("10000.00"), "Städtische Bibliothek:Renovation"),
        ("item", Decimal("350.00"), "Oak & Pine Residence:Kitchen Remodel"),
        ("item", Decimal("151.10"), "Lot 14 – Warehouse"),
    ]
    assert sum(line.amount for line in bill.lines) == bill.amount_due
    assert bill.lines[1].quantity == Decimal("3.5") and bill.lines[1].item_name == 'Drywall:5/8" Type X'
    assert bill.lines[0].class_name == "Commercial" and bill.lines[0].description == "Progress billing"


def test_deletions_parse_into_qbdeletion() -> None:
    (bill,) = qbxml.parse_response(fixture("txn_deleted_query_rs.xml"), "bill_deletions", max_bytes=MAX).records
    (vendor,) = qbxml.parse_response(fixture("list_deleted_query_rs.xml"), "vendor_deletions", max_bytes=MAX).records
    assert bill == QbDeletion(
        kind="bill",
        qb_id="1A2B-1700000000",
        ref="INV-0042",
        time_deleted=datetime(2026, 11, 20, 10, 15, 30, tzinfo=timezone(timedelta(hours=-5))),
        time_created=datetime(2025, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=-4))),
    )
    assert isinstance(vendor, QbDeletion) and vendor.kind == "vendor" and vendor.ref.endswith("& Sons")


def test_status_1_is_an_empty_success_and_errors_keep_the_message() -> None:
    empty = qbxml.parse_response(fixture("bill_query_rs_empty.xml"), "bills", max_bytes=MAX)
    assert (empty.status_code, empty.records, empty.is_error) == ("1", (), False)
    error = qbxml.parse_response(fixture("vendor_query_rs_error.xml"), "vendors", max_bytes=MAX)
    assert error.is_error and error.status_code == "3120"
    assert error.status_message == 'Object "80000099-1700000000" specified in the request cannot be found.'


def test_windows_1252_text_decoded_by_qbwc_keeps_its_characters() -> None:
    text = (FIXTURES / "vendor_query_rs_cp1252.xml").read_bytes().decode("cp1252")
    (vendor,) = qbxml.parse_response(text, "vendors", max_bytes=MAX).records
    assert isinstance(vendor, QbVendor) and vendor.name == "Café – Plumbing “Best”"
    (again,) = qbxml.parse_response("\ufeff" + text, "vendors", max_bytes=MAX).records
    assert again == vendor


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        (
            "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'/></QBXMLMsgsRs></QBXML>",
            "vendors",
            "expected one VendorQueryRs",
        ),
        ("<QBXML><QBXMLMsgsRs/></QBXML>", "bills", "expected one BillQueryRs, got nothing"),
        ("<Other/>", "bills", "expected <QBXML>"),
        ("<QBXML><QBXMLMsgsRs><BillQueryRs/></QBXMLMsgsRs></QBXML>", "bills", "no numeric statusCode"),
        (
            "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><VendorRet/></BillQueryRs></QBXMLMsgsRs></QBXML>",
            "bills",
            "unexpected <VendorRet>",
        ),
        (
            "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><BillRet><TxnID>1</TxnID><EditSequence>1</EditSequence><VendorRef><ListID>v</ListID></VendorRef><TxnDate>2025-01-01</TxnDate><AmountDue>NaN</AmountDue></BillRet></BillQueryRs></QBXMLMsgsRs></QBXML>",
            "bills",
            "not a finite amount",
        ),
        (
            "<QBXML><QBXMLMsgsRs><BillQueryRs statusCode='0'><BillRet><TxnID>1</TxnID><EditSequence>1</EditSequence><VendorRef><ListID>v</ListID></VendorRef><TxnDate>2025-01-01</TxnDate><AmountDue>12,50</AmountDue></BillRet></BillQueryRs></QBXMLMsgsRs></QBXML>",
            "bills",
            "BillRet #1",
        ),
        (
            "<QBXML><QBXMLMsgsRs><TxnDeletedQueryRs statusCode='0'><TxnDeletedRet><TxnDelType>Invoice</TxnDelType><TxnID>1</TxnID><TimeDeleted>2025-01-01T00:00:00Z</TimeDeleted></TxnDeletedRet></TxnDeletedQueryRs></QBXMLMsgsRs></QBXML>",
            "bill_deletions",
            "we asked for Bill",
        ),
        ("<QBXML><QBXMLMsgsRs><BillQueryRs", "bills", "not well-formed"),
        (fixture("xxe_response.xml"), "vendors", "document type"),
    ],
)
def test_unexpected_shapes_raise_instead_of_storing_half(text: str, kind: qbxml.QueryKind, message: str) -> None:
    with pytest.raises(qbxml.QbxmlError, match=message.replace("(", r"\(")):
        qbxml.parse_response(text, kind, max_bytes=MAX)


def test_the_size_cap_applies_before_parsing() -> None:
    with pytest.raises(qbxml.QbxmlError, match="limit"):
        qbxml.parse_response(fixture("bill_query_rs.xml"), "bills", max_bytes=1000)


def test_an_entity_hidden_by_utf16_is_still_refused() -> None:
    from qbwc.xmlsafe import UnsafeXml, parse_bytes

    doc = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>'.encode("utf-16")
    assert b"<!DOCTYPE" not in doc  # the byte pre-check cannot see it; the parser check must
    with pytest.raises(UnsafeXml, match="document type"):
        parse_bytes(doc, max_bytes=MAX)


def test_host_response_gives_company_and_versions_and_we_pick_the_highest_shared() -> None:
    from qbwc.soap import parse_call

    body = (FIXTURES.parent / "soap" / "sendRequestXML_first.xml").read_bytes()
    call = parse_call(body, max_bytes=MAX)
    host = qbxml.parse_host_response(call.get("strHCPResponse"), max_bytes=MAX)
    assert host.company_name == "Keystone & Sons Construction, LLC"
    assert host.versions == ("1.0", "2.0", "12.0", "13.0", "14.0")
    assert qbxml.choose_version(host.versions) == "14.0"
    assert qbxml.choose_version(["1.0", "2.0"]) == ""
    assert qbxml.parse_host_response("garbage <", max_bytes=MAX) == qbxml.HostInfo()


def _children(request: str) -> tuple[str, list[str], dict[str, str]]:
    root = etree.fromstring(request.split("?>", 2)[-1].encode())
    (rq,) = root.find("QBXMLMsgsRq")  # type: ignore[misc]
    return str(rq.tag), [str(c.tag) for c in rq], dict(rq.attrib)


@pytest.mark.parametrize("kind", ["vendors", "bills", "bill_deletions", "vendor_deletions"])
def test_requests_put_their_elements_in_schema_order(kind: qbxml.QueryKind) -> None:
    since = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    request = qbxml.build_query(
        kind, request_id="4", version="13.0", since=since, max_returned=500, offset_minutes=-300
    )
    assert request.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n<QBXML>')
    assert '<QBXMLMsgsRq onError="stopOnError">' in request
    tag, children, attrs = _children(request)
    order = REQUEST_ORDER[tag]
    assert [order.index(c) for c in children] == sorted(order.index(c) for c in children)
    assert attrs["requestID"] == "4"
    assert "2026-11-20T10:00:00-05:00" in request  # the mark in QuickBooks' own offset


def test_the_list_and_transaction_queries_differ_as_qbxml_requires() -> None:
    since = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    vendors = qbxml.build_query("vendors", request_id="1", version="13.0", since=since, max_returned=50)
    bills = qbxml.build_query(
        "bills", request_id="2", version="13.0", since=since, max_returned=50, iterator_id="{abc}"
    )
    assert _children(vendors)[1] == ["MaxReturned", "ActiveStatus", "FromModifiedDate"]
    assert "<ActiveStatus>All</ActiveStatus>" in vendors
    assert _children(bills)[1] == ["MaxReturned", "ModifiedDateRangeFilter", "IncludeLineItems"]
    assert _children(bills)[2] == {"requestID": "2", "iterator": "Continue", "iteratorID": "{abc}"}
    deleted = qbxml.build_query("bill_deletions", request_id="3", version="13.0", since=None, max_returned=50)
    assert "iterator" not in deleted and "DeletedDateRangeFilter" not in deleted
    with pytest.raises(ValueError, match="timezone-aware"):
        qbxml.format_datetime(datetime(2026, 1, 1))


def test_record_fields_read_in_one_pass_match_elementpath_find() -> None:
    """The one-pass field index (qbxml._Fields) answers exactly as lxml's find() for every path we read."""
    from lxml import etree

    from qbwc.qbxml import _Fields

    record = etree.fromstring(
        "<BillRet><TxnID>1-A</TxnID><?pi x?><VendorRef><FullName>First</FullName></VendorRef>"
        "<VendorRef><ListID>80-2</ListID><FullName>Second</FullName></VendorRef><Memo/>"
        "<ExpenseLineRet><Amount>1.00</Amount></ExpenseLineRet><TxnID>1-B</TxnID></BillRet>"
    )
    fields = _Fields(record)
    for path in ("TxnID", "VendorRef/ListID", "VendorRef/FullName", "Memo", "Missing", "Missing/Sub", "TxnID/Sub"):
        found = record.find(path)
        assert fields[path] == ((found.text or "") if found is not None else ""), path
    assert fields.element("VendorRef") is record.find("VendorRef")
    assert fields.lines == record.findall("ExpenseLineRet")  # a bill's lines, read as records of their own
    assert "ExpenseLineRet/Amount" not in fields


def test_text_that_repeats_from_bill_to_bill_is_held_once() -> None:
    """The vendor, job, item, account and terms of a page's bills are one str each (sys.intern),
    while what identifies a bill stays its own."""
    text = (
        FakeCompany(build(bills=40, vendors=2, changes=False))
        .process(qbxml.build_query("bills", request_id="1", version="16.0", since=None, max_returned=40))
        .response
    )
    bills = [r for r in qbxml.parse_response(text, "bills", max_bytes=10_000_000).records if isinstance(r, QbBill)]
    first = {b.vendor_list_id: b for b in bills}
    same_vendor = [(first[b.vendor_list_id], b) for b in bills if first[b.vendor_list_id] is not b]
    assert same_vendor
    for a, b in same_vendor:
        assert a.vendor_list_id is b.vendor_list_id and a.vendor_name is b.vendor_name
        assert a.ap_account is b.ap_account and a.txn_id != b.txn_id
    lines = [line for b in bills for line in b.lines]
    by_item = {line.item_name: line for line in lines if line.item_name}
    assert any(line is not by_item[line.item_name] and line.item_name is by_item[line.item_name].item_name
               for line in lines if line.item_name)  # fmt: skip
    assert all(line.billable_status is sys.intern(line.billable_status) for line in lines)
