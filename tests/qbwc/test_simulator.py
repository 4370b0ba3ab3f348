"""The fake QuickBooks company behaves like QuickBooks where our endpoint depends on it."""

from __future__ import annotations

from datetime import datetime, timedelta

from lxml import etree

from peers.qbwc_simulator.company import PARSE_ERROR, FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc import qbxml


def _rs(answer_text: str) -> etree._Element:
    return etree.fromstring(answer_text.split("?>", 1)[1].encode())[0][0]


def test_elements_out_of_schema_order_are_a_parse_error() -> None:
    company = FakeCompany(build(bills=5, vendors=2, changes=False))
    wrong = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        "<BillQueryRq><IncludeLineItems>true</IncludeLineItems><MaxReturned>5</MaxReturned></BillQueryRq>"
        "</QBXMLMsgsRq></QBXML>"
    )
    answer = company.process(wrong)
    assert (answer.response, answer.hresult, answer.message) == ("", *PARSE_ERROR)
    unknown = wrong.replace("IncludeLineItems>", "IncludeEverything>")
    assert company.process(unknown).hresult == PARSE_ERROR[0]


def test_bills_come_without_lines_unless_asked_and_iterate_by_max_returned() -> None:
    company = FakeCompany(build(bills=5, vendors=2, changes=False))
    request = qbxml.build_query("bills", request_id="1", version="13.0", since=None, max_returned=2)
    rs = _rs(company.process(request).response)
    assert rs.get("iteratorRemainingCount") == "3" and len(rs) == 2
    assert rs.find("BillRet/ExpenseLineRet") is not None or rs.find("BillRet/ItemLineRet") is not None
    bare = request.replace("<IncludeLineItems>true</IncludeLineItems>", "")
    rs = _rs(company.process(bare).response)
    assert rs.find("BillRet/ExpenseLineRet") is None and rs.find("BillRet/ItemLineRet") is None


def test_vendor_queries_default_to_active_only_and_read_naive_dates_as_local() -> None:
    data = build(bills=1, vendors=3, changes=False)
    data.vendors[0]["IsActive"] = "false"
    company = FakeCompany(data)
    default = (
        '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="stopOnError">'
        '<VendorQueryRq requestID="5"></VendorQueryRq></QBXMLMsgsRq></QBXML>'
    )
    rs = _rs(company.process(default).response)
    assert rs.get("requestID") == "5" and len(rs) == 2
    every = qbxml.build_query("vendors", request_id="6", version="13.0", since=None, max_returned=10)
    assert len(_rs(company.process(every).response)) == 3

    # The vendors changed at 08:00, 09:00 and 10:00 New York time (-05:00 in March).
    naive = default.replace(
        "</VendorQueryRq>",
        "<ActiveStatus>All</ActiveStatus><FromModifiedDate>2025-03-01T13:30:00</FromModifiedDate></VendorQueryRq>",
    )
    assert len(_rs(company.process(naive).response)) == 0  # 13:30 local: after all three
    utc = naive.replace("2025-03-01T13:30:00<", "2025-03-01T13:30:00+00:00<")
    assert len(_rs(company.process(utc).response)) == 2  # 13:30Z is 08:30 local


def test_an_empty_result_is_status_1_and_edits_get_a_new_edit_sequence() -> None:
    company = FakeCompany(build(bills=20, vendors=5))
    since = datetime.now().astimezone() - timedelta(minutes=1)
    request = qbxml.build_query("bills", request_id="1", version="13.0", since=since, max_returned=50)
    rs = _rs(company.process(request).response)
    assert rs.get("statusCode") == "1" and len(rs) == 0
    before = {b["TxnID"]: b["EditSequence"] for b in company.data.bills}
    assert company.apply_next_changes()
    rs = _rs(company.process(request).response)
    changed = {b.findtext("TxnID"): b.findtext("EditSequence") for b in rs}
    assert len(changed) == 4  # three edits and one new bill
    assert all(before.get(txn) != seq for txn, seq in changed.items())
    deleted = qbxml.build_query("bill_deletions", request_id="2", version="13.0", since=since, max_returned=50)
    assert len(_rs(company.process(deleted).response)) == 2
