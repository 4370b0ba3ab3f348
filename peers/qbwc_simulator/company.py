"""FakeCompany: answers qbXML requests from a Dataset the way QuickBooks Desktop does.

What it honours, because our endpoint depends on each: the schema's element order
(out of order = HRESULT 0x80040400 and no response, as QuickBooks does), list vs
transaction date filters, ActiveStatus (QuickBooks' default is ActiveOnly),
IncludeLineItems, MaxReturned, iterators (IDs live only in this company's session,
and may be made to expire), statusCode 1 on an empty result, requestID echo.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from peers.qbwc_simulator.dataset import Dataset, Record

PARSE_ERROR = ("0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")
# What QuickBooks answers when a Continue names an iterator it no longer has. The exact
# code is not in the documents we have; the endpoint treats any Error on a Continue as
# a lost iterator, so the simulator's choice does not matter to it.
ITERATOR_LOST = ("3000", "The iterator ID is invalid or has expired.")

# Children each request may have, in schema order (qbXML 13.0 OSR, qbxmlops130.xsd).
REQUEST_ORDER: dict[str, tuple[str, ...]] = {
    "VendorQueryRq": (
        "ListID",
        "FullName",
        "MaxReturned",
        "ActiveStatus",
        "FromModifiedDate",
        "ToModifiedDate",
        "NameFilter",
        "NameRangeFilter",
        "TotalBalanceFilter",
        "CurrencyFilter",
        "ClassFilter",
        "IncludeRetElement",
        "OwnerID",
    ),
    "BillQueryRq": (
        "TxnID",
        "RefNumber",
        "RefNumberCaseSensitive",
        "MaxReturned",
        "ModifiedDateRangeFilter",
        "TxnDateRangeFilter",
        "EntityFilter",
        "AccountFilter",
        "RefNumberFilter",
        "RefNumberRangeFilter",
        "CurrencyFilter",
        "PaidStatus",
        "IncludeLineItems",
        "IncludeLinkedTxns",
        "IncludeRetElement",
        "OwnerID",
    ),
    "TxnDeletedQueryRq": ("TxnDelType", "DeletedDateRangeFilter", "RefNumberFilter", "RefNumberRangeFilter"),
    "ListDeletedQueryRq": ("ListDelType", "DeletedDateRangeFilter", "NameFilter", "NameRangeFilter"),
}
RESPONSE_FOR = {
    "VendorQueryRq": ("VendorQueryRs", "VendorRet"),
    "BillQueryRq": ("BillQueryRs", "BillRet"),
    "TxnDeletedQueryRq": ("TxnDeletedQueryRs", "TxnDeletedRet"),
    "ListDeletedQueryRq": ("ListDeletedQueryRs", "ListDeletedRet"),
}


@dataclass
class Faults:
    """Failures to inject. Request kinds are qbXML request tags, e.g. "BillQueryRq"."""

    connection_error: tuple[str, str] | None = None  # (HRESULT, message): QuickBooks would not open
    qbxml_error: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind -> (statusCode, message)
    qbxml_warning: dict[str, tuple[str, str]] = field(default_factory=dict)
    malformed: set[str] = field(default_factory=set)  # kind -> a truncated, not well-formed answer
    unexpected_shape: set[str] = field(default_factory=set)  # kind -> a well-formed answer to another query
    parse_error: set[str] = field(default_factory=set)  # kind -> HRESULT 0x80040400, empty response
    stop_after_responses: int | None = None  # the session stops (QuickBooks closed) after N responses
    expire_iterators_after_continues: int | None = None  # the Nth Continue finds its iterator gone
    duplicate_responses: bool = False  # post every receiveResponseXML twice (a QBWC retry)


@dataclass
class Answer:
    response: str
    hresult: str = ""
    message: str = ""


def _parse_dt(text: str, tz: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text.strip())
    # QuickBooks reads a filter date without an offset as the PC's local time.
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _render(parent: etree._Element, tag: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _render(parent, tag, item)
    elif isinstance(value, dict):
        node = etree.SubElement(parent, tag)
        for key, sub in value.items():
            _render(node, key, sub)
    elif value is not None:
        etree.SubElement(parent, tag).text = str(value)


class FakeCompany:
    """One QuickBooks company file. `run` counts Web Connector runs; changes apply between them."""

    def __init__(self, dataset: Dataset, *, faults: Faults | None = None) -> None:
        self.data = copy.deepcopy(dataset)
        self.faults = faults or Faults()
        self.tz = ZoneInfo(self.data.timezone)
        self.deleted_bills: list[Record] = []
        self.deleted_vendors: list[Record] = []
        self.iterators: dict[str, list[Record]] = {}
        self.continues = 0
        self.changes_applied = 0
        self.requests_seen: list[str] = []  # request tags, in order

    # --- the company's clock and edits between runs ---------------------------

    def now(self) -> datetime:
        return datetime.now(self.tz).replace(microsecond=0)

    def _next_edit(self, record: Record) -> None:
        now = self.now()
        record["TimeModified"] = now.isoformat()
        record["EditSequence"] = str(max(int(record["EditSequence"]) + 1, int(now.timestamp())))

    def apply_next_changes(self) -> bool:
        """Apply the dataset's next change set (as a bookkeeper would between runs)."""
        if self.changes_applied >= len(self.data.changes):
            return False
        change = self.data.changes[self.changes_applied]
        self.changes_applied += 1
        now = self.now().isoformat()
        for new in change.get("add_vendors", []):
            row = copy.deepcopy(new)
            row["TimeCreated"] = row["TimeModified"] = now
            self.data.vendors.append(row)
        for new in change.get("add_bills", []):
            row = copy.deepcopy(new)
            row["TimeCreated"] = row["TimeModified"] = now
            self.data.bills.append(row)
        for edit in change.get("edit_vendors", []):
            vendor = next(v for v in self.data.vendors if v["ListID"] == edit["ListID"])
            vendor.update({k: v for k, v in edit.items() if k != "ListID"})
            self._next_edit(vendor)
        for edit in change.get("edit_bills", []):
            bill = next(b for b in self.data.bills if b["TxnID"] == edit["TxnID"])
            for key, value in edit.items():
                if key == "line_amount":
                    self._set_first_line_amount(bill, value)
                elif key != "TxnID":
                    bill[key] = value
            self._next_edit(bill)
        for txn_id in change.get("delete_bills", []):
            bill = next(b for b in self.data.bills if b["TxnID"] == txn_id)
            self.data.bills.remove(bill)
            self.deleted_bills.append(
                {
                    "TxnDelType": "Bill",
                    "TxnID": txn_id,
                    "TimeCreated": bill["TimeCreated"],
                    "TimeDeleted": now,
                    "RefNumber": bill.get("RefNumber", ""),
                }
            )
        for list_id in change.get("delete_vendors", []):
            vendor = next(v for v in self.data.vendors if v["ListID"] == list_id)
            self.data.vendors.remove(vendor)
            self.deleted_vendors.append(
                {
                    "ListDelType": "Vendor",
                    "ListID": list_id,
                    "TimeCreated": vendor["TimeCreated"],
                    "TimeDeleted": now,
                    "FullName": vendor["Name"],
                }
            )
        return True

    @staticmethod
    def _set_first_line_amount(bill: Record, amount: str) -> None:
        from decimal import Decimal

        lines: list[Record] = bill.get("ExpenseLineRet") or bill["ItemLineRet"]
        lines[0]["Amount"] = amount
        if "Quantity" in lines[0]:
            lines[0]["Quantity"], lines[0]["Cost"] = "1", amount
        total = sum(
            (Decimal(line["Amount"]) for line in bill.get("ExpenseLineRet", []) + bill.get("ItemLineRet", [])),
            Decimal("0"),
        )
        bill["AmountDue"] = bill["OpenAmount"] = str(total.quantize(Decimal("0.01")))

    # --- answering QBWC ---------------------------------------------------------

    def host_response(self) -> str:
        """What QBWC passes as strHCPResponse on the first sendRequestXML."""
        root = etree.Element("QBXML")
        msgs = etree.SubElement(root, "QBXMLMsgsRs")
        host = etree.SubElement(
            msgs, "HostQueryRs", requestID="0", statusCode="0", statusSeverity="Info", statusMessage="Status OK"
        )
        _render(
            host,
            "HostRet",
            {
                "ProductName": self.data.product,
                "MajorVersion": "34",
                "MinorVersion": "0",
                "Country": "US",
                "SupportedQBXMLVersion": self.data.qbxml_versions,
                "IsAutomaticLogin": "false",
                "QBFileMode": "SingleUser",
            },
        )
        company = etree.SubElement(
            msgs, "CompanyQueryRs", requestID="1", statusCode="0", statusSeverity="Info", statusMessage="Status OK"
        )
        _render(
            company,
            "CompanyRet",
            {
                "IsSampleCompany": "false",
                "CompanyName": self.data.company_name,
                "LegalCompanyName": self.data.company_name,
            },
        )
        etree.SubElement(
            msgs, "PreferencesQueryRs", requestID="2", statusCode="0", statusSeverity="Info", statusMessage="Status OK"
        )
        return self._serialize(root)

    @staticmethod
    def _serialize(root: etree._Element) -> str:
        return '<?xml version="1.0" ?>\n' + etree.tostring(root, encoding="unicode")

    def process(self, request: str) -> Answer:
        """Run one qbXML request. Mirrors QuickBooks: parse problems give an HRESULT, not a body."""
        try:
            text = request.split("?>", 2)[-1] if request.lstrip().startswith("<?xml") else request
            root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return Answer("", *PARSE_ERROR)
        msgs = root.find("QBXMLMsgsRq")
        if root.tag != "QBXML" or msgs is None or len(msgs) != 1:
            return Answer("", *PARSE_ERROR)
        rq = msgs[0]
        kind = str(rq.tag)
        self.requests_seen.append(kind)
        if kind not in REQUEST_ORDER or not self._in_order(rq, REQUEST_ORDER[kind]):
            return Answer("", *PARSE_ERROR)
        if kind in self.faults.parse_error:
            return Answer("", *PARSE_ERROR)
        if kind in self.faults.malformed:
            return Answer(f'<?xml version="1.0" ?>\n<QBXML><QBXMLMsgsRs><{RESPONSE_FOR[kind][0]} statusCode="0"><Vendo')
        if kind in self.faults.unexpected_shape:
            other = "ItemQueryRs" if kind != "VendorQueryRq" else "BillQueryRs"
            return Answer(self._envelope(other, rq.get("requestID", ""), "0", "Info", "Status OK", []))
        rs_tag, ret_tag = RESPONSE_FOR[kind]
        request_id = rq.get("requestID", "")
        if kind in self.faults.qbxml_error:
            code, message = self.faults.qbxml_error[kind]
            return Answer(self._envelope(rs_tag, request_id, code, "Error", message, []))
        try:
            rows, iterator_attrs = self._select(kind, rq)
        except LookupError:
            code, message = ITERATOR_LOST
            return Answer(self._envelope(rs_tag, request_id, code, "Error", message, []))
        if kind == "BillQueryRq" and (rq.findtext("IncludeLineItems") or "").strip() != "true":
            rows = [{k: v for k, v in row.items() if k not in ("ExpenseLineRet", "ItemLineRet")} for row in rows]
        if kind in self.faults.qbxml_warning:
            code, message = self.faults.qbxml_warning[kind]
            return Answer(self._envelope(rs_tag, request_id, code, "Warn", message, rows, ret_tag, iterator_attrs))
        if not rows:
            return Answer(
                self._envelope(
                    rs_tag,
                    request_id,
                    "1",
                    "Info",
                    "A query request did not find a matching object in QuickBooks",
                    [],
                    ret_tag,
                    iterator_attrs,
                )
            )
        return Answer(self._envelope(rs_tag, request_id, "0", "Info", "Status OK", rows, ret_tag, iterator_attrs))

    @staticmethod
    def _in_order(rq: etree._Element, order: tuple[str, ...]) -> bool:
        last = -1
        for child in rq:
            if child.tag not in order:
                return False
            position = order.index(str(child.tag))
            if position < last:
                return False
            last = position
        return True

    def _select(self, kind: str, rq: etree._Element) -> tuple[list[Record], dict[str, str]]:
        iterator = rq.get("iterator", "")
        max_returned = int(rq.findtext("MaxReturned") or 0) or None
        if iterator == "Continue":
            iterator_id = rq.get("iteratorID", "")
            self.continues += 1
            expire_at = self.faults.expire_iterators_after_continues
            if expire_at is not None and self.continues == expire_at:
                self.iterators.clear()
            if iterator_id not in self.iterators:
                raise LookupError(iterator_id)
            pending = self.iterators[iterator_id]
        else:
            pending = self._matching(kind, rq)
            iterator_id = "{" + str(uuid.uuid4()).upper() + "}" if iterator == "Start" else ""
        if max_returned is None:
            page, rest = pending, []
        else:
            page, rest = pending[:max_returned], pending[max_returned:]
        if not iterator_id:
            return page, {}
        self.iterators[iterator_id] = rest
        return page, {"iteratorRemainingCount": str(len(rest)), "iteratorID": iterator_id}

    def _matching(self, kind: str, rq: etree._Element) -> list[Record]:
        if kind == "VendorQueryRq":
            since = rq.findtext("FromModifiedDate")
            status = (rq.findtext("ActiveStatus") or "ActiveOnly").strip()
            rows = [
                v
                for v in self.data.vendors
                if status == "All" or (v.get("IsActive", "true") == "true") == (status == "ActiveOnly")
            ]
            stamp = "TimeModified"
        elif kind == "BillQueryRq":
            since = rq.findtext("ModifiedDateRangeFilter/FromModifiedDate")
            rows, stamp = list(self.data.bills), "TimeModified"
        elif kind == "TxnDeletedQueryRq":
            since = rq.findtext("DeletedDateRangeFilter/FromDeletedDate")
            types = {t.text for t in rq.iterfind("TxnDelType")}
            rows, stamp = [d for d in self.deleted_bills if "Bill" in types], "TimeDeleted"
        else:
            since = rq.findtext("DeletedDateRangeFilter/FromDeletedDate")
            types = {t.text for t in rq.iterfind("ListDelType")}
            rows, stamp = [d for d in self.deleted_vendors if "Vendor" in types], "TimeDeleted"
        if since:
            cutoff = _parse_dt(since, self.tz)
            rows = [r for r in rows if datetime.fromisoformat(r[stamp]) >= cutoff]
        return rows

    def _envelope(
        self,
        rs_tag: str,
        request_id: str,
        code: str,
        severity: str,
        message: str,
        rows: list[Record],
        ret_tag: str = "",
        extra: dict[str, str] | None = None,
    ) -> str:
        root = etree.Element("QBXML")
        msgs = etree.SubElement(root, "QBXMLMsgsRs")
        rs = etree.SubElement(msgs, rs_tag)
        if request_id:
            rs.set("requestID", request_id)
        rs.set("statusCode", code)
        rs.set("statusSeverity", severity)
        rs.set("statusMessage", message)
        for key, value in (extra or {}).items():
            rs.set(key, value)
        for row in rows:
            _render(rs, ret_tag, row)
        return self._serialize(root)
