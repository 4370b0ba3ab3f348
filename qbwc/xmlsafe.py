"""PURE: one hardened lxml parser for everything QBWC and QuickBooks send us.

No DTDs, no entity resolution, no network, no huge trees, and a size cap checked
before parsing. A document that declares a DOCTYPE at all is refused: neither
SOAP 1.1 nor qbXML responses need one, and refusing it closes XXE and
entity-expansion ("billion laughs") attacks without relying on parser options.
"""

from __future__ import annotations

import re
from typing import Literal

from lxml import etree

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXml(ValueError):
    """The bytes are not a well-formed, DTD-free XML document within the size cap."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=False,
    )


def refuses_dtd(data: bytes) -> bool:
    """True when the bytes declare a DOCTYPE or an ENTITY (never needed by SOAP or qbXML)."""
    return bool(_DTD.search(data))


PullEvent = Literal["start", "end"]


def xml_pull_parser(*, events: tuple[PullEvent, ...] = ("start", "end"), tag: str | None = None) -> etree.XMLPullParser:
    """The same hardening as _parser(), incremental: start/end events for SOAP envelopes, or only
    the end of each `tag` element for a qbXML page read record by record.

    huge_tree stays off: libxml2 then refuses a text node over 10 000 000 bytes and
    nesting over 256 levels by itself; our own element/depth/size limits (soap.Limits)
    come well before those.
    """
    return etree.XMLPullParser(
        events=events,
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def parse_bytes(data: bytes, *, max_bytes: int) -> etree._Element:
    if len(data) > max_bytes:
        raise UnsafeXml(f"document is {len(data)} bytes, over the {max_bytes}-byte limit")
    if _DTD.search(data):
        raise UnsafeXml("document type declarations are not accepted")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise UnsafeXml("document type declarations are not accepted")
    return root


def parse_text(text: str, *, max_bytes: int) -> etree._Element:
    """Parse XML that already arrived as Unicode (qbXML inside a SOAP string).

    Its declaration may name an encoding (QuickBooks writes utf-8 or windows-1252)
    that no longer applies once the text is decoded, so it is dropped first.
    """
    text = text.lstrip("\ufeff")  # a byte-order mark that survived decoding
    return parse_bytes(_DECLARATION.sub("", text, count=1).encode("utf-8"), max_bytes=max_bytes)
