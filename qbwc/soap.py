"""PURE: SOAP 1.1 document/literal envelopes for the QuickBooks Web Connector.

QBWC never reads our WSDL: its proxy is compiled in, so element names, the
`http://developer.intuit.com/` namespace and `ArrayOfString` (`<string>` children)
must match Intuit's QBWebConnectorSvc WSDL exactly (see templates/qbwc/service.wsdl).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from qbwc.xmlsafe import refuses_dtd, xml_pull_parser

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

    `small_bytes` caps every operation but receiveResponseXML, and the bytes before
    any operation's element (a huge SOAP Header is refused early). `max_bytes` caps
    a receiveResponseXML body; `response_chars` the qbXML text it carries (libxml2
    refuses a text node over 10 000 000 bytes anyway, see xmlsafe). `max_elements`
    and `max_depth` bound the envelope itself: a real call has about a dozen
    elements, three levels deep under Body.
    """

    small_bytes: int = 8192
    max_bytes: int = 50 * 1024 * 1024
    response_chars: int = 8_000_000
    max_elements: int = 64
    max_depth: int = 8


class CallReader:
    """PURE, incremental: feed the body chunk by chunk; learn the operation and the
    ticket as soon as they have arrived, before the rest is parsed.

    QBWC sends parameters in WSDL order, so receiveResponseXML's `ticket` comes
    before its (large) `response`: the caller can refuse an unknown ticket before
    reading the payload. Nothing of the body is kept but the parameters' text.
    Raises SoapFault as soon as a limit is passed or the XML breaks.
    """

    def __init__(self, *, soap_action: str = "", limits: Limits) -> None:
        self.limits = limits
        self.soap_action = soap_action.strip().strip('"')
        self.method = ""
        self.params: dict[str, str] = {}
        self.fed = 0
        self._parser = xml_pull_parser()
        self._depth = 0
        self._elements = 0
        self._in_body = False
        self._body_seen = False
        self._seen_envelope = False
        self._tail = b""

    @property
    def ticket(self) -> str | None:
        """The ticket once its element has been read completely (None before)."""
        return self.params.get("ticket")

    def feed(self, chunk: bytes) -> None:
        self.fed += len(chunk)
        if refuses_dtd(self._tail + chunk):
            raise SoapFault("document type declarations are not accepted")
        self._tail = chunk[-16:]
        try:
            self._parser.feed(chunk)
            self._consume()
        except etree.XMLSyntaxError as exc:
            raise SoapFault(f"not well-formed XML: {exc}") from None
        except ValueError as exc:  # lxml's own checks on names and text: still the client's input
            raise SoapFault(f"not acceptable XML: {exc}") from None
        self._check_size()

    def close(self) -> SoapCall:
        try:
            self._parser.close()
            self._consume()
        except etree.XMLSyntaxError as exc:
            raise SoapFault(f"not well-formed XML: {exc}") from None
        except ValueError as exc:
            raise SoapFault(f"not acceptable XML: {exc}") from None
        if not self._seen_envelope:
            raise SoapFault("not well-formed XML: no element found")
        if not self.method:
            raise SoapFault(
                "the Body must hold exactly one operation" if self._body_seen else "the Envelope has no Body"
            )
        return SoapCall(method=self.method, params=dict(self.params))

    def _check_size(self) -> None:
        limit = self.limits.max_bytes if self.method == LARGE_OPERATION else self.limits.small_bytes
        if self.fed > limit:
            what = self.method or "a request whose operation has not started"
            raise SoapFault(f"{what}: request body over the {limit}-byte limit")

    def _consume(self) -> None:
        for event, element in self._parser.read_events():
            if not isinstance(element, etree._Element):
                continue
            if event == "start":
                self._start(element)
            else:
                self._end(element)

    def _start(self, element: etree._Element) -> None:
        self._depth += 1
        self._elements += 1
        if self._elements > self.limits.max_elements:
            raise SoapFault(f"the envelope has more than {self.limits.max_elements} elements")
        if self._depth > self.limits.max_depth:
            raise SoapFault(f"the envelope is nested deeper than {self.limits.max_depth} levels")
        tag = element.tag if isinstance(element.tag, str) else ""
        if self._depth == 1:
            if tag != f"{{{SOAP_ENV}}}Envelope":
                raise SoapFault("expected a SOAP 1.1 Envelope")
            self._seen_envelope = True
        elif self._depth == 2 and tag == f"{{{SOAP_ENV}}}Body":
            self._in_body = self._body_seen = True
        elif self._depth == 3 and self._in_body:
            if self.method:
                raise SoapFault("the Body must hold exactly one operation")
            namespace, localname = _split(tag)
            if namespace != QBWC_NS or localname not in OPERATIONS:
                raise SoapFault(f"unknown operation {{{namespace}}}{localname}")
            if self.soap_action and self.soap_action != QBWC_NS + localname:
                raise SoapFault(f"SOAPAction {self.soap_action!r} does not match the operation {localname!r}")
            self.method = localname

    def _end(self, element: etree._Element) -> None:
        if self._depth == 4 and self.method and self._in_body:
            name = _local(element.tag)
            if name in OPERATIONS[self.method] and name not in self.params:
                text = element.text or ""
                cap = self.limits.response_chars if name == "response" else self.limits.small_bytes
                if len(text) > cap:
                    raise SoapFault(f"{name} is {len(text)} characters, over the {cap}-character limit")
                self.params[name] = text
        if self._depth == 2 and _local(element.tag) == "Body":
            self._in_body = False
        if self._depth >= 3:
            element.clear()  # keep nothing of the tree but what params holds
        self._depth -= 1


def parse_call(body: bytes, *, soap_action: str = "", max_bytes: int, limits: Limits | None = None) -> SoapCall:
    """Bytes of a SOAP 1.1 request -> the operation and its string parameters.

    Raises SoapFault for anything that is not one well-formed call of a known
    operation in the QBWC namespace, or that passes the limits.
    """
    limits = limits or Limits(small_bytes=max_bytes, max_bytes=max_bytes, response_chars=max_bytes)
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
