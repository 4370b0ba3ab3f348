"""PURE: SOAP 1.1 document/literal envelopes for the QuickBooks Web Connector.

QBWC never reads our WSDL: its proxy is compiled in, so element names, the
`http://developer.intuit.com/` namespace and `ArrayOfString` (`<string>` children)
must match Intuit's QBWebConnectorSvc WSDL exactly (see templates/qbwc/service.wsdl).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from qbwc.xmlsafe import UnsafeXml, parse_bytes

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

    def get(self, name: str) -> str:
        return self.params.get(name, "")


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_call(body: bytes, *, soap_action: str = "", max_bytes: int) -> SoapCall:
    """Bytes of a SOAP 1.1 request -> the operation and its string parameters.

    Raises SoapFault for anything that is not one well-formed call of a known
    operation in the QBWC namespace.
    """
    try:
        root = parse_bytes(body, max_bytes=max_bytes)
    except UnsafeXml as exc:
        raise SoapFault(str(exc)) from None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("expected a SOAP 1.1 Envelope")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    if soap_body is None:
        raise SoapFault("the Envelope has no Body")
    calls = [child for child in soap_body if isinstance(child.tag, str)]
    if len(calls) != 1:
        raise SoapFault("the Body must hold exactly one operation")
    call = calls[0]
    qname = etree.QName(call.tag)
    if qname.namespace != QBWC_NS or qname.localname not in OPERATIONS:
        raise SoapFault(f"unknown operation {{{qname.namespace}}}{qname.localname}")
    method = qname.localname
    action = soap_action.strip().strip('"')
    if action and action != QBWC_NS + method:
        raise SoapFault(f"SOAPAction {action!r} does not match the operation {method!r}")
    params: dict[str, str] = {}
    expected = OPERATIONS[method]
    for child in call:
        name = _local(child.tag)
        if name in expected:
            params[name] = child.text or ""
    return SoapCall(method=method, params=params)


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
