"""PURE: SOAP 1.1 document/literal envelopes for the QuickBooks Web Connector.

QBWC never reads our WSDL: its proxy is compiled in, so element names, the
`http://developer.intuit.com/` namespace and `ArrayOfString` (`<string>` children)
must match Intuit's QBWebConnectorSvc WSDL exactly (see templates/qbwc/service.wsdl).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from xml.parsers.expat import ExpatError

from lxml import etree

from qbwc.xmlsafe import NAMESPACE_SEPARATOR, UnsafeXml, refuses_dtd, xml_envelope_parser

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


def _clark(name: str) -> str:
    """expat's "namespace<SEP>local" as "{namespace}local" (what the checks below read)."""
    namespace, sep, local = name.partition(NAMESPACE_SEPARATOR)
    return f"{{{namespace}}}{local}" if sep else name


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


# Bytes a receiveResponseXML body may run without the parser reporting anything (an element,
# or text: expat hands text over at least every TEXT_BUFFER bytes of its UTF-8, each byte at most ten
# bytes a character even as character references). Anything longer is one huge piece of markup
# (a tag, a comment): refused, because expat 2.5 (CPython 3.11's) parses an incomplete token
# again from its start each time more arrives (CVE-2023-52425), so it would cost time squared.
QUIET_BYTES = 1024 * 1024


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class _Envelope:
    """CallReader's handlers: expat calls start/end/text as it reads, and builds no tree
    (xmlsafe.xml_envelope_parser: the Python standard library's pyexpat).

    Why not a tree: a tree keeps a parameter's text as one text node until its element ends,
    and reading it copies it into a str, which takes two bytes per character as soon as one
    character is beyond Latin-1 (QuickBooks' curly quotes): for receiveResponseXML's answer
    that was three times the answer at once. Here each parameter's text is filed as it comes
    into what keeps it: the answer's UTF-8 (written to a BytesIO, whose getvalue() hands its
    buffer over without a copy), a small parameter's str, or nowhere: text outside the
    parameters (whitespace between elements, a SOAP Header's, hostile padding, a parameter's
    children and what follows them) is only counted, against `small_bytes`, and dropped.
    Every limit is checked as the text arrives, so nothing grows past its cap before the fault.

    Why expat and not libxml2's SAX (lxml's parser targets, used before): QBWC escapes the
    qbXML with entities, and libxml2 reports text in one call per run between two of them,
    ~285 calls a bill, each a new Python str; expat's text buffer (`buffer_text`) joins them
    in C and hands over up to TEXT_BUFFER bytes of it a call. Measured on a 500-bill answer
    (0.94 MB envelope, in process): 24-27 ms through lxml, 8-12 ms through expat. And lxml
    inspects the target's `start` signature (inspect.getfullargspec) for every new parser:
    ~45 of the ~115 us a small call's envelope cost (bench/README.md).
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
        self.events = 0  # calls from the parser so far (CallReader watches for long silences)
        self._param = ""  # the parameter element open at depth 4 ("" outside one)
        self._sink = ""  # where text goes now: the open parameter until its first child starts
        self._small: list[str] = []  # a small parameter's text so far
        self._size = 0  # its UTF-8 bytes so far
        self._answer: io.BytesIO | None = None
        self._outside = 0  # UTF-8 bytes of text dropped outside the parameters

    def text(self, text: str) -> None:
        """File a piece of text where it belongs (see the class)."""
        self.events += 1
        if self._sink == "response":
            piece = text.encode("utf-8")  # expat decoded it from the body: valid UTF-8 again
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

    def start_element(self, name: str, attributes: object) -> None:
        """expat's StartElementHandler: `name` is "namespace<SEP>local" (or "local")."""
        self.start(_clark(name), attributes)

    def end_element(self, name: str) -> None:
        self.end(_clark(name))

    def start(self, tag: str, attrib: object) -> None:
        self.events += 1
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
        self.events += 1
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

    def release(self) -> None:
        """Drop the text held (a reader that stops early, or a fault)."""
        self.response, self._answer, self._small, self.params = b"", None, [], {}


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
        self._parser = xml_envelope_parser(
            start=self._target.start_element, end=self._target.end_element, text=self._target.text
        )
        self._tail = b""
        self._quiet = 0  # bytes fed since the parser last reported anything

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
            events = self._target.events
            self._parse(chunk, final=False)
            self._quiet = self._quiet + len(chunk) if self._target.events == events else 0
            if self._quiet > QUIET_BYTES:
                raise SoapFault(f"the envelope holds a piece of markup over {QUIET_BYTES} bytes")
            self._check_size()
        except SoapFault:
            self.release()
            raise

    def close(self) -> SoapCall:
        """The call read, or SoapFault. Either way the reader holds nothing of it afterwards."""
        target = self._target
        try:
            self._parse(b"", final=True)
            if not target.seen_envelope:
                raise SoapFault("not well-formed XML: no element found")
            if not target.method:
                raise SoapFault(
                    "the Body must hold exactly one operation" if target.body_seen else "the Envelope has no Body"
                )
            return SoapCall(method=target.method, params=dict(target.params), response=target.response)
        finally:
            self.release()

    def _parse(self, data: bytes, *, final: bool) -> None:
        """Feed expat; what it refuses (and what the handlers refuse) becomes a SoapFault."""
        try:
            self._parser.Parse(data, final)
        except ExpatError as exc:
            raise SoapFault(f"not well-formed XML: {exc}") from None
        except UnsafeXml as exc:
            raise SoapFault(str(exc)) from None
        except (LookupError, ValueError) as exc:  # an encoding pyexpat cannot read: still the client's input
            raise SoapFault(f"not acceptable XML: {exc}") from None

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
