"""PURE: SOAP 1.1 document/literal envelopes for the QuickBooks Web Connector.

QBWC never reads our WSDL: its proxy is compiled in, so element names, the
`http://developer.intuit.com/` namespace and `ArrayOfString` (`<string>` children)
must match Intuit's QBWebConnectorSvc WSDL exactly (see templates/qbwc/service.wsdl).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from lxml import etree

from qbwc.xmlsafe import refuses_dtd, xml_target_parser

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
QBWC_NS = "http://developer.intuit.com/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"

# Operation -> its parameters, in WSDL order (Intuit's QBWebConnectorSvc).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": (
        "ticket",
        "strHCPResponse",
        "strCompanyFileName",
        "qbXMLCountry",
        "qbXMLMajorVers",
        "qbXMLMinorVers",
    ),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
    "getInteractiveURL": ("wcTicket", "sessionID"),
    "interactiveDone": ("wcTicket",),
    "interactiveRejected": ("wcTicket", "reason"),
}


class SoapFault(Exception):
    """Render as a SOAP 1.1 Fault. `client` faults are the caller's fault (bad input)."""

    def __init__(self, message: str, *, client: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.client = client


@dataclass(frozen=True)
class SoapCall:
    method: str
    params: dict[str, str] = field(default_factory=dict)
    # Set when a live session's receiveResponseXML was refused after its ticket was
    # read (answer too large, envelope broken): the session ends with this reason.
    refused: str = ""
    # receiveResponseXML's qbXML answer, as the UTF-8 of its text (not in `params`): the one
    # large parameter, kept as bytes so the server holds it once at one byte per byte (a str
    # holding a single non-Latin-1 character, such as QuickBooks' curly quotes, takes two or
    # four bytes per character), and so that everything downstream (digest, record count,
    # qbXML parse, COPY of the raw answer) reads it without an encode pass of its own.
    response: bytes = b""

    def get(self, name: str) -> str:
        return self.params.get(name, "")


def _split(tag: object) -> tuple[str | None, str]:
    """(namespace, local name) of a parsed tag, by string: etree.QName raises on tags such as
    "ns:thing" that an undeclared prefix leaves behind (found by the fuzzer)."""
    if not isinstance(tag, str):
        return None, ""
    if tag.startswith("{") and "}" in tag:
        namespace, local = tag[1:].split("}", 1)
        return namespace, local
    return None, tag


def _local(tag: object) -> str:
    return _split(tag)[1]


# The only operation whose body may be large: it carries QuickBooks' answer.
LARGE_OPERATION = "receiveResponseXML"


@dataclass(frozen=True)
class Limits:
    """How much work one SOAP request may cost before (and while) it is understood.

    `small_bytes` caps every operation but receiveResponseXML, the bytes before any
    operation's element (a huge SOAP Header is refused early), each small parameter's text,
    and all the text outside the parameters together (a real envelope has only some
    whitespace there), each counted in UTF-8 bytes as it is read. `max_bytes` caps a receiveResponseXML body;
    `response_bytes` the UTF-8 of the qbXML text it carries, counted as it is read (no
    text node is built for it, see _Envelope). `max_elements` and `max_depth` bound the
    envelope itself: a real call has about a dozen elements, three levels deep under Body.
    """

    small_bytes: int = 8192
    max_bytes: int = 50 * 1024 * 1024
    response_bytes: int = 8_000_000
    max_elements: int = 64
    max_depth: int = 8


# How much of a fed chunk libxml2 reads at a time. The text it reports in between is held
# as one small str per run between two entities until it is flushed: ~0.2 MB for 16 KB.
FEED_BYTES = 16 * 1024


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class _Envelope:
    """CallReader's parser target: lxml calls start/end/data/close as libxml2 reads, and
    builds no tree (lxml, "Parsing XML and HTML with lxml": The target parser interface).

    Why not a tree: libxml2 keeps a parameter's text as one text node until its element
    ends (grown by doubling), and lxml's `.text` then copies it into a str, which takes two
    bytes per character as soon as one character is beyond Latin-1 (QuickBooks' curly
    quotes): for receiveResponseXML's answer that was three times the answer at once, and
    twice the answer held while it was stored. Here each parameter's text is flushed as it
    comes (at every start and end tag, and after every slice fed) into what keeps it: the
    answer's UTF-8 (written to a BytesIO, whose getvalue() hands its buffer over without a
    copy), a small parameter's str, or nowhere: text outside the parameters (whitespace
    between elements, a SOAP Header's, hostile padding, a parameter's children and what
    follows them) is only counted, against `small_bytes`, and dropped. Every limit is
    checked as the text arrives, so nothing grows past its cap before the fault.

    `data` is a list's bound `append`, a C call: QBWC escapes the qbXML with entities and
    libxml2 reports text in one call per run between two of them (~285 calls per bill), and
    lxml reads `target.data` once, when the parser is made (src/lxml/parsertarget.pxi), so a
    Python method there would run half a million times for a 2000-bill answer, twice the
    time of the whole parse otherwise.

    An lxml feed parser that has been fed is in a reference cycle with its target (measured:
    neither is freed when the last reference goes, only by a collection of the oldest
    generation, which may be many requests later), so the reader `release()`s what the
    target holds once the call is read or refused: else each page would stay until then.
    """

    def __init__(self, *, soap_action: str, limits: Limits) -> None:
        self.limits = limits
        self.soap_action = soap_action
        self.method = ""
        self.params: dict[str, str] = {}
        self.response = b""
        self._read: set[str] = set()  # the parameters read (a repeated element is dropped)
        self.seen_envelope = False
        self.body_seen = False
        self._depth = 0
        self._elements = 0
        self._in_body = False
        self._parts: list[str] = []
        self.data = self._parts.append
        self._param = ""  # the parameter element open at depth 4 ("" outside one)
        self._sink = ""  # where text goes now: the open parameter until its first child starts
        self._small: list[str] = []  # a small parameter's text so far
        self._size = 0  # its UTF-8 bytes so far
        self._answer: io.BytesIO | None = None
        self._outside = 0  # UTF-8 bytes of text dropped outside the parameters

    def flush(self) -> None:
        """File the text reported since the last flush where it belongs (see the class)."""
        if not self._parts:
            return
        text = "".join(self._parts)
        self._parts.clear()
        if self._sink == "response":
            piece = text.encode("utf-8")  # lxml decoded it from the body: valid UTF-8 again
            self._size += len(piece)
            if self._size > self.limits.response_bytes:
                raise SoapFault(f"response is over the {self.limits.response_bytes}-byte limit")
            assert self._answer is not None
            self._answer.write(piece)
        elif self._sink:
            self._size += _utf8_size(text)
            if self._size > self.limits.small_bytes:
                raise SoapFault(f"{self._sink} is over the {self.limits.small_bytes}-byte limit")
            self._small.append(text)
        else:
            self._outside += _utf8_size(text)
            if self._outside > self.limits.small_bytes:
                raise SoapFault(f"the text outside the parameters is over the {self.limits.small_bytes}-byte limit")

    def start(self, tag: str, attrib: object) -> None:
        self.flush()
        self._sink = ""  # a parameter's text is what comes before its first child (element.text)
        self._depth += 1
        self._elements += 1
        if self._elements > self.limits.max_elements:
            raise SoapFault(f"the envelope has more than {self.limits.max_elements} elements")
        if self._depth > self.limits.max_depth:
            raise SoapFault(f"the envelope is nested deeper than {self.limits.max_depth} levels")
        if self._depth == 1:
            if tag != f"{{{SOAP_ENV}}}Envelope":
                raise SoapFault("expected a SOAP 1.1 Envelope")
            self.seen_envelope = True
        elif self._depth == 2 and tag == f"{{{SOAP_ENV}}}Body":
            self._in_body = self.body_seen = True
        elif self._depth == 3 and self._in_body:
            if self.method:
                raise SoapFault("the Body must hold exactly one operation")
            namespace, localname = _split(tag)
            if namespace != QBWC_NS or localname not in OPERATIONS:
                raise SoapFault(f"unknown operation {{{namespace}}}{localname}")
            if self.soap_action and self.soap_action != QBWC_NS + localname:
                raise SoapFault(f"SOAPAction {self.soap_action!r} does not match the operation {localname!r}")
            self.method = localname
        elif self._depth == 4 and self.method and self._in_body:
            name = _local(tag)
            # The first element of each of the operation's parameters.
            if name in OPERATIONS[self.method] and name not in self._read:
                self._param = self._sink = name
                self._small, self._size = [], 0
                if name == "response":
                    self._answer = io.BytesIO()

    def end(self, tag: str) -> None:
        self.flush()
        self._sink = ""
        if self._depth == 4 and self._param:
            if self._param == "response":
                assert self._answer is not None
                self.response, self._answer = self._answer.getvalue(), None
            else:
                self.params[self._param] = "".join(self._small)
            self._read.add(self._param)
            self._param, self._small = "", []
        if self._depth == 2 and _local(tag) == "Body":
            self._in_body = False
        self._depth -= 1

    def close(self) -> None:
        self.flush()

    def release(self) -> None:
        """Drop the text held (see the class: the parser keeps its target until a collection)."""
        self.response, self._answer, self._small, self.params = b"", None, [], {}
        self._parts.clear()


class CallReader:
    """PURE, incremental: feed the body chunk by chunk; learn the operation and the
    ticket as soon as they have arrived, before the rest is parsed.

    QBWC sends parameters in WSDL order, so receiveResponseXML's `ticket` comes
    before its (large) `response`: the caller can refuse an unknown ticket before
    reading the payload. Nothing of the body is kept but the parameters' text, the
    answer's as UTF-8 (see _Envelope). Raises SoapFault as soon as a limit is passed
    or the XML breaks.
    """

    def __init__(self, *, soap_action: str = "", limits: Limits) -> None:
        self.limits = limits
        self.fed = 0
        self._target = _Envelope(soap_action=soap_action.strip().strip('"'), limits=limits)
        self._parser = xml_target_parser(self._target)
        self._tail = b""

    @property
    def method(self) -> str:
        return self._target.method

    @property
    def params(self) -> dict[str, str]:
        return self._target.params

    @property
    def ticket(self) -> str | None:
        """The ticket once its element has been read completely (None before)."""
        return self._target.params.get("ticket")

    def feed(self, chunk: bytes) -> None:
        self.fed += len(chunk)
        try:
            if refuses_dtd(self._tail + chunk):
                raise SoapFault("document type declarations are not accepted")
            self._tail = chunk[-16:]
            try:
                for i in range(0, len(chunk), FEED_BYTES):
                    self._parser.feed(chunk[i : i + FEED_BYTES])
                    self._target.flush()
            except etree.XMLSyntaxError as exc:
                raise SoapFault(f"not well-formed XML: {exc}") from None
            except ValueError as exc:  # lxml's own checks on names and text: still the client's input
                raise SoapFault(f"not acceptable XML: {exc}") from None
            self._check_size()
        except SoapFault:
            self.release()
            raise

    def close(self) -> SoapCall:
        """The call read, or SoapFault. Either way the reader holds nothing of it afterwards."""
        target = self._target
        try:
            try:
                self._parser.close()
            except etree.XMLSyntaxError as exc:
                raise SoapFault(f"not well-formed XML: {exc}") from None
            except ValueError as exc:
                raise SoapFault(f"not acceptable XML: {exc}") from None
            if not target.seen_envelope:
                raise SoapFault("not well-formed XML: no element found")
            if not target.method:
                raise SoapFault(
                    "the Body must hold exactly one operation" if target.body_seen else "the Envelope has no Body"
                )
            return SoapCall(method=target.method, params=dict(target.params), response=target.response)
        finally:
            self.release()

    def release(self) -> None:
        """Drop what was read so far (for a caller that stops reading early; close() and a fault
        do it themselves). The method and the ticket stay known."""
        ticket = self.ticket
        self._target.release()
        if ticket is not None:
            self._target.params["ticket"] = ticket

    def _check_size(self) -> None:
        limit = self.limits.max_bytes if self.method == LARGE_OPERATION else self.limits.small_bytes
        if self.fed > limit:
            what = self.method or "a request whose operation has not started"
            raise SoapFault(f"{what}: request body over the {limit}-byte limit")


def parse_call(body: bytes, *, soap_action: str = "", max_bytes: int, limits: Limits | None = None) -> SoapCall:
    """Bytes of a SOAP 1.1 request -> the operation and its string parameters.

    Raises SoapFault for anything that is not one well-formed call of a known
    operation in the QBWC namespace, or that passes the limits.
    """
    limits = limits or Limits(small_bytes=max_bytes, max_bytes=max_bytes, response_bytes=max_bytes)
    if len(body) > limits.max_bytes:
        raise SoapFault(f"request body over the {limits.max_bytes}-byte limit")
    reader = CallReader(soap_action=soap_action, limits=limits)
    reader.feed(body)
    return reader.close()


def _envelope() -> tuple[etree._Element, etree._Element]:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "xsi": XSI, "xsd": XSD})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    return env, body


def _serialize(env: etree._Element) -> bytes:
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def render_result(method: str, result: str | int | list[str]) -> bytes:
    """`<methodResponse><methodResult>…` ; a list becomes ArrayOfString."""
    env, body = _envelope()
    response = etree.SubElement(body, f"{{{QBWC_NS}}}{method}Response", nsmap={None: QBWC_NS})  # type: ignore[dict-item]
    node = etree.SubElement(response, f"{{{QBWC_NS}}}{method}Result")
    if isinstance(result, list):
        for item in result:
            etree.SubElement(node, f"{{{QBWC_NS}}}string").text = item
    else:
        node.text = str(result)
    return _serialize(env)


def render_fault(fault: SoapFault) -> bytes:
    env, body = _envelope()
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    # faultcode/faultstring are unqualified in SOAP 1.1.
    etree.SubElement(node, "faultcode").text = "soap:Client" if fault.client else "soap:Server"
    etree.SubElement(node, "faultstring").text = fault.message
    return _serialize(env)
