"""PURE: build the qbXML requests we send and parse QuickBooks' answers into qbtypes.

References: qbXML SDK 13.0 OSR (qbxmlops130.xsd) for element order, which is
fixed by the schema (a wrong order is parse error 0x80040400); QBWC Programmer's
Guide for the host/company response on the first sendRequestXML.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Literal

from lxml import etree

from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbDeletion, QbVendor
from qbwc.xmlsafe import UnsafeXml, check_text, document_start, parse_text, refuse_doctype, utf8_slices, xml_pull_parser

QueryKind = Literal["vendors", "bills", "bill_deletions", "vendor_deletions"]

# qbXML versions whose schema holds every element we send and read, newest first.
SUPPORTED_VERSIONS = ("16.0", "15.0", "14.0", "13.0", "12.0", "11.0", "10.0", "8.0", "7.0")
DEFAULT_VERSION = "13.0"

# Which response and record element each query yields.
_SHAPES: dict[str, tuple[str, str]] = {
    "vendors": ("VendorQueryRs", "VendorRet"),
    "bills": ("BillQueryRs", "BillRet"),
    "bill_deletions": ("TxnDeletedQueryRs", "TxnDeletedRet"),
    "vendor_deletions": ("ListDeletedQueryRs", "ListDeletedRet"),
}


class QbxmlError(ValueError):
    """QuickBooks' answer is not the shape we asked for; nothing in it may be stored."""


Record = QbVendor | QbBill | QbDeletion


@dataclass(frozen=True)
class ResponseHead:
    """A response's status and iterator: what is known before its records are read."""

    request_id: str
    status_code: str
    status_severity: str
    status_message: str
    iterator_id: str = ""
    iterator_remaining: int | None = None
    has_records: bool = False

    @property
    def is_error(self) -> bool:
        return self.status_severity.lower() == "error"

    @property
    def is_warning(self) -> bool:
        return self.status_severity.lower() == "warn"


@dataclass(frozen=True)
class QueryResponse(ResponseHead):
    """A whole response: its head and every record (parse_response)."""

    records: tuple[Record, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class HostInfo:
    company_name: str = ""
    product: str = ""
    versions: tuple[str, ...] = ()


# --- requests -----------------------------------------------------------------


def format_datetime(value: datetime, *, offset_minutes: int | None = None) -> str:
    """A qbXML DATETIMETYPE with an explicit offset.

    QuickBooks reads a filter date without an offset as the PC's local time, and
    some versions ignore the offset altogether; sending the time in the offset
    QuickBooks itself uses (learned from its own timestamps) reads right either way.
    """
    if value.tzinfo is None:
        raise ValueError("qbXML filter datetimes must be timezone-aware")
    tz = timezone(timedelta(minutes=offset_minutes)) if offset_minutes is not None else UTC
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def _envelope() -> tuple[etree._Element, etree._Element]:
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError="stopOnError")
    return root, msgs


def _serialize(root: etree._Element, version: str) -> str:
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}'


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    node = etree.SubElement(parent, tag)
    if text is not None:
        node.text = text
    return node


def build_query(
    kind: QueryKind,
    *,
    request_id: str,
    version: str,
    since: datetime | None,
    max_returned: int,
    iterator_id: str = "",
    offset_minutes: int | None = None,
) -> str:
    """One query request, its children in schema order.

    List and transaction queries iterate (`iterator="Start"` then `Continue`);
    the deleted-object queries do not support iterators in qbXML.
    """
    root, msgs = _envelope()
    since_text = format_datetime(since, offset_minutes=offset_minutes) if since else None
    if kind in ("vendors", "bills"):
        tag = "VendorQueryRq" if kind == "vendors" else "BillQueryRq"
        rq = _sub(msgs, tag)
        rq.set("requestID", request_id)
        if iterator_id:
            rq.set("iterator", "Continue")
            rq.set("iteratorID", iterator_id)
        else:
            rq.set("iterator", "Start")
        _sub(rq, "MaxReturned", str(max_returned))
        if kind == "vendors":
            # ActiveStatus All: a deactivation is a modification we must see.
            _sub(rq, "ActiveStatus", "All")
            if since_text:
                _sub(rq, "FromModifiedDate", since_text)
        else:
            if since_text:
                _sub(_sub(rq, "ModifiedDateRangeFilter"), "FromModifiedDate", since_text)
            _sub(rq, "IncludeLineItems", "true")
    elif kind == "bill_deletions":
        rq = _sub(msgs, "TxnDeletedQueryRq")
        rq.set("requestID", request_id)
        _sub(rq, "TxnDelType", "Bill")
        if since_text:
            _sub(_sub(rq, "DeletedDateRangeFilter"), "FromDeletedDate", since_text)
    elif kind == "vendor_deletions":
        rq = _sub(msgs, "ListDeletedQueryRq")
        rq.set("requestID", request_id)
        _sub(rq, "ListDelType", "Vendor")
        if since_text:
            _sub(_sub(rq, "DeletedDateRangeFilter"), "FromDeletedDate", since_text)
    else:
        raise ValueError(f"unknown query kind {kind!r}")
    return _serialize(root, version)


# --- responses ----------------------------------------------------------------


def choose_version(offered: Iterable[str]) -> str:
    """The highest qbXML version both QuickBooks and we speak."""

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".") if p.isdigit())

    ours = set(SUPPORTED_VERSIONS)
    common = [v.strip() for v in offered if v.strip() in ours]
    return max(common, key=key) if common else ""


def parse_host_response(text: str, *, max_bytes: int) -> HostInfo:
    """The host/company/preferences answer QBWC sends on the first sendRequestXML.

    Tolerant: a missing or odd answer yields an empty HostInfo, and the caller
    falls back to the version QBWC passed as parameters.
    """
    if not text.strip():
        return HostInfo()
    try:
        root = parse_text(text, max_bytes=max_bytes)
    except UnsafeXml:
        return HostInfo()
    host = root.find(".//HostRet")
    company = root.find(".//CompanyRet")
    versions = tuple(v.text.strip() for v in root.iterfind(".//HostRet/SupportedQBXMLVersion") if v.text)
    product = _text(_Fields(host), "ProductName") if host is not None else ""
    name = _text(_Fields(company), "CompanyName") if company is not None else ""
    return HostInfo(company_name=name, product=product, versions=versions)


def parse_response(text: str | bytes, kind: QueryKind, *, max_bytes: int) -> QueryResponse:
    """A qbXML response to one of our queries -> status, iterator and records.

    Raises QbxmlError when it is not well-formed, safe XML holding exactly the
    response we asked for, or when a record lacks what identifies it. The whole page
    in memory at once; the endpoint streams it through ResponseReader instead.
    """
    reader = ResponseReader(text, kind, max_bytes=max_bytes)
    head = reader.head()
    records = [record for batch in reader.batches(1000) for record in batch]
    return QueryResponse(
        request_id=head.request_id,
        status_code=head.status_code,
        status_severity=head.status_severity,
        status_message=head.status_message,
        iterator_id=head.iterator_id,
        iterator_remaining=head.iterator_remaining,
        records=tuple(records),
    )


class ResponseReader:
    """PURE, streaming: one qbXML answer read record by record, never as a whole tree.

    The same hardening as xmlsafe.parse_text (size cap and DOCTYPE/ENTITY refusal over the
    whole text first, then the hardened pull parser: no DTD, no entities, no network, no
    huge trees) and the same answers as reading the whole tree: every error parse_response
    gave, with the same precedence. A document that is not well-formed wins over any other
    fault, then its shape (root, one response of the kind asked for), the response's status
    and iterator attributes, and last the first bad record in document order. Errors other
    than not-well-formed are only raised once the document has been read to its end, so a
    consumer that stores batches as they come must roll them back when one is raised.

    libxml2 reports only the end of each record element (a Python event per element would
    cost more than the rest of the parse); a record is read there, then it and what came
    before it in its response are dropped. Whatever else the document holds stays in the
    tree and is checked when it ends, as the whole-tree parse did.
    """

    def __init__(self, text: str | bytes, kind: QueryKind, *, max_bytes: int) -> None:
        # Bytes are the answer's UTF-8 as the SOAP reader keeps it (soap.SoapCall.response): fed
        # to libxml2 in slices as they are; a str is encoded a slice at a time.
        start = document_start(text)
        try:
            check_text(text, start, max_bytes=max_bytes)
        except UnsafeXml as exc:
            raise QbxmlError(str(exc)) from None
        self._slices = utf8_slices(text, start)  # what libxml2 is fed, a slice at a time
        self._rs_tag, self._ret_tag = _SHAPES[kind]
        self._parse_one = _PARSERS[kind]
        self._parser = xml_pull_parser(events=("end",), tag=self._ret_tag)
        self._rs: etree._Element | None = None  # the response, once a record in it has ended
        self._head: ResponseHead | None = None
        self._error = ""  # the first bad child of the response (unexpected element or bad record)
        self._count = 0  # record elements of the response read so far
        self._pending: list[Record] = []
        self._done = False

    def head(self) -> ResponseHead:
        """The response's status and iterator, and whether it holds any record. Raises QbxmlError
        (after reading the whole document, for the right error) when the document is bad."""
        while not self._done and self._rs is None:
            self._step()
        if self._head is None:  # a response with records but bad attributes, or a bad shape
            self._drain()
        assert self._head is not None
        return replace(self._head, has_records=self._count > 0)

    def batches(self, size: int) -> Iterator[tuple[Record, ...]]:
        """The records, at most `size` at a time, in document order; raises QbxmlError at the end
        (or at once when the document is not well-formed) if the document is bad."""
        self.head()
        while True:
            while len(self._pending) < size and not self._done:
                self._step()
            if self._error:
                self._drain()
            if self._pending:
                batch, self._pending = tuple(self._pending[:size]), self._pending[size:]
                yield batch
                # Not held while the next batch is read: else it stays alive beside that one (and, read
                # ahead, beside the one being stored: three batches; qbwc/read_ahead.py).
                del batch
            elif self._done:
                return

    @property
    def records(self) -> int:
        return self._count

    def _drain(self) -> None:
        """Read to the end (records no longer built) and raise the error that wins."""
        self._error = self._error or "bad"  # build no more records
        while not self._done:
            self._step()
        raise AssertionError("unreachable: a bad document raises when it ends")  # pragma: no cover

    def _step(self) -> None:
        """Feed the next slice (or close the parser and judge the document) and read its records."""
        try:
            piece = next(self._slices, None)
            if piece is not None:
                self._parser.feed(piece)
                for _, element in self._parser.read_events():
                    self._record(element)  # type: ignore[arg-type]  # "end" events carry elements
                return
            self._done = True
            root = self._parser.close()
            for _, element in self._parser.read_events():
                self._record(element)  # type: ignore[arg-type]
        except etree.XMLSyntaxError as exc:
            self._done, self._pending = True, []
            raise QbxmlError(f"not well-formed XML: {exc}") from None
        try:
            refuse_doctype(root)
            self._judge(root)
        except UnsafeXml as exc:
            self._pending = []
            raise QbxmlError(str(exc)) from None
        except QbxmlError:
            self._pending = []
            raise

    def _response_of(self, element: etree._Element) -> etree._Element | None:
        """The element's parent when that is the response parse_response reads: the first element
        of the first <QBXMLMsgsRs> of a <QBXML> root, of the kind asked for."""
        rs = element.getparent()
        msgs = rs.getparent() if rs is not None else None
        root = msgs.getparent() if msgs is not None else None
        if rs is None or rs.tag != self._rs_tag or msgs is None or msgs.tag != "QBXMLMsgsRs":
            return None
        if root is None or root.getparent() is not None or root.tag != "QBXML" or root.find("QBXMLMsgsRs") is not msgs:
            return None
        first = next(msgs.iterchildren(etree.Element), None)  # elements only: no comments or PIs
        return rs if first is rs else None

    def _record(self, element: etree._Element) -> None:
        if self._rs is None:
            rs = self._response_of(element)
            if rs is None:
                return  # not a record of the response: judged with the rest of the tree at the end
            self._rs = rs
            try:
                self._head = _head_of(rs, self._rs_tag)
            except QbxmlError:
                self._error = "bad"  # the response itself is refused: raised when the document ends
        elif element.getparent() is not self._rs:
            return  # a record element nested elsewhere (inside a record: read with it)
        if self._error:
            return
        # What came before this record in the response, in document order: another kind of
        # element there is the response's first bad child.
        for sibling in element.itersiblings(etree.Element, preceding=True):
            if sibling.tag != self._ret_tag:
                self._error = f"{self._rs_tag} holds an unexpected <{sibling.tag}>"
                self._pending = []
                return
        try:
            self._pending.append(self._read(element))
        except QbxmlError as exc:
            self._error = str(exc)
            self._pending = []
            return
        # Read: drop it and everything before it (lxml's recipe for incremental parsing; the
        # element has ended, so libxml2 holds nothing of it), so the tree never holds the page.
        while element.getprevious() is not None:
            del self._rs[0]
        self._rs.remove(element)

    def _read(self, element: etree._Element) -> Record:
        """The response's next record element as a record; QbxmlError names it by its position."""
        self._count += 1
        try:
            return self._parse_one(element)
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise QbxmlError(f"{self._ret_tag} #{self._count}: {exc}") from None

    def _judge(self, root: etree._Element) -> None:
        """The whole-tree checks, on what is left of the tree once its records were read."""
        msgs = root.find("QBXMLMsgsRs")
        if root.tag != "QBXML" or msgs is None:
            raise QbxmlError(f"expected <QBXML><QBXMLMsgsRs>, got <{root.tag}>")
        responses = list(msgs.iterchildren(etree.Element))
        if len(responses) != 1 or responses[0].tag != self._rs_tag:
            got = ", ".join(str(n.tag) for n in responses) or "nothing"
            raise QbxmlError(f"expected one {self._rs_tag}, got {got}")
        rs = responses[0]
        self._head = _head_of(rs, self._rs_tag)
        if self._error:
            raise QbxmlError(self._error)
        for child in rs.iterchildren(etree.Element):  # what followed the last record read
            if child.tag != self._ret_tag:
                raise QbxmlError(f"{self._rs_tag} holds an unexpected <{child.tag}>")
            # A record the events did not report as the response's (the response came first
            # only when the document ended): read it now.
            self._pending.append(self._read(child))
        if self._rs is None:
            self._rs = rs


def _head_of(rs: etree._Element, rs_tag: str) -> ResponseHead:
    code = rs.get("statusCode")
    if code is None or not code.strip().lstrip("-").isdigit():
        raise QbxmlError(f"{rs_tag} has no numeric statusCode")
    if len(code.strip()) > 9:
        # Found by the fuzzer on PostgreSQL: QuickBooks codes are small integers.
        raise QbxmlError(f"{rs_tag} statusCode {code[:20]!r} is out of range")
    remaining_raw = rs.get("iteratorRemainingCount")
    try:
        remaining = int(remaining_raw) if remaining_raw is not None else None
    except ValueError:
        raise QbxmlError(f"iteratorRemainingCount {remaining_raw!r} is not a number") from None
    if remaining is not None and remaining < 0:
        # Found by the fuzzer: a negative count would otherwise reach the database.
        raise QbxmlError(f"iteratorRemainingCount {remaining} is negative")
    return ResponseHead(
        request_id=rs.get("requestID", ""),
        status_code=code.strip(),
        status_severity=rs.get("statusSeverity", ""),
        status_message=rs.get("statusMessage", ""),
        iterator_id=rs.get("iteratorID", ""),
        iterator_remaining=remaining,
    )


# A bill's line elements, read as records of their own (in document order).
_LINE_TAGS = frozenset({"ExpenseLineRet", "ItemLineRet", "ItemGroupLineRet"})


class _Fields(dict[str, str]):
    """A record element's fields, read in one pass over its children and grandchildren: the
    text of each `Tag` and `Tag/Sub` path, "" for a path that is absent.

    Reading a record's ~20 fields with `node.find(path)` goes through lxml's ElementPath
    machinery once per field (path lookup, a Python generator, a new element proxy per
    call): that was ~90 % of the parse, 10x the libxml2 parse itself. One pass gives the
    same answers as `find` for the `Tag` and `Tag/Sub` paths used here: the first match
    in document order. A dict, so that reading a field is one C-level lookup (`node[path]`;
    a method call per field was a sixth of reading a bill).
    """

    __slots__ = ("_first", "lines")

    def __init__(self, node: etree._Element) -> None:
        super().__init__()
        first: dict[str, etree._Element] = {}
        lines: list[etree._Element] = []  # the line children (bills), in document order
        for child in node.iterchildren(etree.Element):  # elements only: no comments or PIs
            tag = child.tag
            if tag not in first:
                first[tag] = child
                self[tag] = child.text or ""
            if tag in _LINE_TAGS:
                lines.append(child)  # a line is read as its own record
            elif len(child):
                for sub in child.iterchildren(etree.Element):
                    key = tag + "/" + sub.tag
                    if key not in self:
                        self[key] = sub.text or ""
        self._first, self.lines = first, lines

    def __missing__(self, path: str) -> str:
        return ""

    def element(self, tag: str) -> etree._Element | None:
        return self._first.get(tag)


def _text(node: _Fields | None, path: str) -> str:
    return node[path] if node is not None else ""


def _required(node: _Fields, path: str, *, strip: bool = True) -> str:
    value = node[path]
    if not value.strip():
        raise KeyError(f"missing {path}")
    return value.strip() if strip else value


def _datetime(node: _Fields, path: str) -> datetime | None:
    raw = node[path].strip()
    if not raw:
        return None
    value = datetime.fromisoformat(raw)
    # QuickBooks always sends an offset; if one is ever missing, UTC is the least
    # surprising reading and the watermark safety window covers the rest.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _date(node: _Fields, path: str) -> date | None:
    raw = node[path].strip()
    return date.fromisoformat(raw) if raw else None


def _decimal(node: _Fields, path: str) -> Decimal | None:
    raw = node[path].strip()
    if not raw:
        return None
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(f"{path} is not a finite amount")
    return value


def _bool(node: _Fields, path: str) -> bool | None:
    raw = node[path].strip().lower()
    return {"true": True, "false": False}.get(raw)


def _vendor(element: etree._Element) -> QbVendor:
    node = _Fields(element)
    addr_element = node.element("VendorAddress")
    address = None
    if addr_element is not None:
        addr_node = _Fields(addr_element)
        address = QbAddress(
            addr1=addr_node["Addr1"],
            addr2=addr_node["Addr2"],
            addr3=addr_node["Addr3"],
            addr4=addr_node["Addr4"],
            addr5=addr_node["Addr5"],
            city=addr_node["City"],
            state=addr_node["State"],
            postal_code=addr_node["PostalCode"],
            country=addr_node["Country"],
        )
    active = _bool(node, "IsActive")
    return QbVendor(
        list_id=_required(node, "ListID"),
        edit_sequence=_required(node, "EditSequence"),
        name=_required(node, "Name", strip=False),  # names keep every character
        time_created=_datetime(node, "TimeCreated"),
        time_modified=_datetime(node, "TimeModified"),
        is_active=True if active is None else active,
        company_name=node["CompanyName"],
        salutation=node["Salutation"],
        first_name=node["FirstName"],
        middle_name=node["MiddleName"],
        last_name=node["LastName"],
        address=address,
        phone=node["Phone"],
        alt_phone=node["AltPhone"],
        fax=node["Fax"],
        email=node["Email"],
        contact=node["Contact"],
        account_number=node["AccountNumber"],
        vendor_type=node["VendorTypeRef/FullName"],
        terms=node["TermsRef/FullName"],
        balance=_decimal(node, "Balance"),
    )


# Text that repeats from bill to bill of a page (the vendor, the job, the item, the account,
# the terms) is held once: sys.intern gives the one str already alive of that value (and in
# CPython the interned table does not keep it alive: it goes with the last record naming it).
# About a third of a parsed bill's memory (~0.9 of ~2.7 KB), the largest part of what a
# batch of records holds (bench/bench_qbwc.py section 4, peak memory).
_shared = sys.intern


def _line(element: etree._Element, kind: Literal["expense", "item"]) -> QbBillLine:
    node = _Fields(element)
    amount = _decimal(node, "Amount")
    return QbBillLine(
        txn_line_id=_required(node, "TxnLineID"),
        kind=kind,
        amount=amount if amount is not None else Decimal("0.00"),
        customer_list_id=_shared(node["CustomerRef/ListID"]),
        customer_full_name=_shared(node["CustomerRef/FullName"]),
        account_name=_shared(node["AccountRef/FullName"]),
        item_name=_shared(node["ItemRef/FullName"]),
        description=_shared(node["Memo"] if kind == "expense" else node["Desc"]),
        quantity=_decimal(node, "Quantity"),
        cost=_decimal(node, "Cost"),
        class_name=_shared(node["ClassRef/FullName"]),
        billable_status=_shared(node["BillableStatus"]),
    )


def _bill(element: etree._Element) -> QbBill:
    node = _Fields(element)
    lines: list[QbBillLine] = []
    for child in node.lines:
        if child.tag == "ExpenseLineRet":
            lines.append(_line(child, "expense"))
        elif child.tag == "ItemLineRet":
            lines.append(_line(child, "item"))
        elif child.tag == "ItemGroupLineRet":
            # A group is a bundle of item lines; its members carry the amounts.
            lines.extend(_line(sub, "item") for sub in child.iterfind("ItemLineRet"))
    txn_date = _date(node, "TxnDate")
    if txn_date is None:
        raise KeyError("missing TxnDate")
    amount_due = _decimal(node, "AmountDue")
    if amount_due is None:
        raise KeyError("missing AmountDue")
    return QbBill(
        txn_id=_required(node, "TxnID"),
        edit_sequence=_required(node, "EditSequence"),
        vendor_list_id=_shared(_required(node, "VendorRef/ListID")),
        vendor_name=_shared(node["VendorRef/FullName"]),
        txn_date=txn_date,
        amount_due=amount_due,
        time_created=_datetime(node, "TimeCreated"),
        time_modified=_datetime(node, "TimeModified"),
        txn_number=node["TxnNumber"],
        ref_number=node["RefNumber"],
        due_date=_date(node, "DueDate"),
        memo=node["Memo"],
        is_paid=_bool(node, "IsPaid"),
        open_amount=_decimal(node, "OpenAmount"),
        ap_account=_shared(node["APAccountRef/FullName"]),
        terms=_shared(node["TermsRef/FullName"]),
        lines=tuple(lines),
    )


def _deleted(kind: Literal["bill", "vendor"]) -> Callable[[etree._Element], QbDeletion]:
    type_tag, id_tag, ref_tag, expected = (
        ("TxnDelType", "TxnID", "RefNumber", "Bill")
        if kind == "bill"
        else ("ListDelType", "ListID", "FullName", "Vendor")
    )

    def parse(element: etree._Element) -> QbDeletion:
        node = _Fields(element)
        if node[type_tag] != expected:
            raise ValueError(f"{type_tag} is {node[type_tag]!r}, we asked for {expected}")
        deleted = _datetime(node, "TimeDeleted")
        if deleted is None:
            raise KeyError("missing TimeDeleted")
        return QbDeletion(
            kind=kind,
            qb_id=_required(node, id_tag),
            time_deleted=deleted,
            time_created=_datetime(node, "TimeCreated"),
            ref=node[ref_tag],
        )

    return parse


_PARSERS: dict[str, Callable[[etree._Element], Record]] = {
    "vendors": _vendor,
    "bills": _bill,
    "bill_deletions": _deleted("bill"),
    "vendor_deletions": _deleted("vendor"),
}
