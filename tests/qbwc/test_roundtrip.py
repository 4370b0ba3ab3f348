"""Any text QuickBooks can hold survives fake QuickBooks -> qbXML -> our parser unchanged."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.qbtypes import QbBill, QbVendor, bill_from_json, to_json, vendor_from_json
from peers.qbwc_simulator.company import FakeCompany
from peers.qbwc_simulator.dataset import build
from qbwc import qbxml

# XML 1.0 text: no surrogates, no control characters except tab, CR and LF (Windows memos).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\r\n"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")
MONEY = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2)


@settings(max_examples=60, deadline=None)
@given(name=TEXT, memo=TEXT, amount=MONEY)
def test_names_memos_and_amounts_round_trip(name: str, memo: str, amount: Decimal) -> None:
    data = build(bills=1, vendors=1, changes=False)
    data.vendors[0]["Name"] = name
    bill = data.bills[0]
    bill["VendorRef"]["FullName"] = name
    bill["Memo"] = memo
    bill["ExpenseLineRet"], bill["ItemLineRet"] = [{"TxnLineID": "1", "Amount": str(amount), "Memo": memo}], []
    bill["AmountDue"] = str(amount)
    company = FakeCompany(data)

    vendors_rs = company.process(
        qbxml.build_query("vendors", request_id="1", version="13.0", since=None, max_returned=5)
    )
    (vendor,) = qbxml.parse_response(vendors_rs.response, "vendors", max_bytes=10**6).records
    assert isinstance(vendor, QbVendor) and vendor.name == name
    assert vendor_from_json(to_json(vendor)) == vendor

    bills_rs = company.process(qbxml.build_query("bills", request_id="2", version="13.0", since=None, max_returned=5))
    (parsed,) = qbxml.parse_response(bills_rs.response, "bills", max_bytes=10**6).records
    assert isinstance(parsed, QbBill)
    assert (parsed.vendor_name, parsed.memo, parsed.amount_due) == (name, memo, amount)
    assert parsed.lines[0].amount == amount and parsed.lines[0].description == memo
    assert bill_from_json(to_json(parsed)) == parsed
