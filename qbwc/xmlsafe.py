"""PURE: the hardened parsers for everything QBWC and QuickBooks send us: libxml2 (lxml) for
qbXML, expat (the standard library's pyexpat) for SOAP envelopes.

No DTDs, no entity resolution, no network, no huge trees, and a size cap checked
before parsing. A document that declares a DOCTYPE at all is refused: neither
SOAP 1.1 nor qbXML responses need one, and refusing it closes XXE and
entity-expansion ("billion laughs") attacks without relying on parser options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Literal
from xml.parsers.expat import XML_PARAM_ENTITY_PARSING_NEVER, ParserCreate, XMLParserType

from lxml import etree

_DECLARATION = re.compile(r"\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DECLARATION_BYTES = re.compile(rb"\s*<\?xml[^>]*\?>", re.IGNORECASE)
_BOM = "\ufeff".encode()
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# The same refusal for text not yet encoded: ASCII-only, so its IGNORECASE does not match the
# non-ASCII letters Unicode folds to i, k or s, which the bytes never would.
_DTD_TEXT = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE | re.ASCII)

# How many characters of a decoded document are encoded to UTF-8 at a time (utf8_slices).
SLICE_CHARS = 64 * 1024


class UnsafeXml(ValueError):
    """The bytes are not a well-formed, DTD-free XML document within the size cap."""


# Every parser of ours: no entities, no network, no DTD, no huge trees, no comments.
_HARDENED: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**_HARDENED, remove_pis=False)


def refuses_dtd(data: bytes) -> bool:
    """True when the bytes declare a DOCTYPE or an ENTITY (never needed by SOAP or qbXML)."""
    return bool(_DTD.search(data))


PullEvent = Literal["start", "end"]


def xml_pull_parser(*, events: tuple[PullEvent, ...] = ("start", "end"), tag: str | None = None) -> etree.XMLPullParser:
    """The same hardening as _parser(), incremental: the end of each `tag` element, for a qbXML
    page read record by record (SOAP envelopes go through xml_envelope_parser: no tree at all).

    huge_tree stays off: libxml2 then refuses a text node over 10 000 000 bytes and
    nesting over 256 levels by itself; our own element/depth/size limits (soap.Limits)
    come well before those.
    """
    return etree.XMLPullParser(events=events, tag=tag, **_HARDENED)


# expat reports a namespaced name as "namespace<SEP>local". A character XML 1.0 forbids in a
# document, so it can be in neither a namespace name nor a local name.
NAMESPACE_SEPARATOR = "\x01"
# Bytes of text expat's buffer gathers before handing them over (pyexpat buffer_text): each
# becomes a str and its UTF-8 again while it is filed, so they stay small (16 KB: ~40 calls for
# a 500-bill answer, and neither copy above glibc's mmap threshold).
TEXT_BUFFER = 16 * 1024


def _refuse_dtd(*_: object) -> None:
    raise UnsafeXml("document type declarations are not accepted")


def xml_envelope_parser(
    *, start: Callable[[str, Any], None], end: Callable[[str], None], text: Callable[[str], None]
) -> XMLParserType:
    """A SOAP envelope's incremental parser (soap.CallReader): Python's expat (pyexpat), calling
    `start(name, attributes)`, `end(name)` and `text(text)` as it reads, building no tree.

    Hardened as the libxml2 parsers are: a DOCTYPE or an entity declaration raises UnsafeXml
    the moment expat meets it (the byte check refuses_dtd runs before, on every chunk), so no
    entity is ever defined; parameter entities are never parsed; with no external-entity
    handler nothing outside the document is ever read (pyexpat fetches nothing itself), and an
    entity reference other than the five predefined ones is expat's "undefined entity" error.
    Comments and processing instructions have no handler: skipped. Text is gathered in C
    (buffer_text) and handed over at most TEXT_BUFFER bytes of its UTF-8 at a time; the caller caps
    what it keeps (soap.Limits) and how deep and how many the elements are. Names come as
    "namespace<NAMESPACE_SEPARATOR>local"; an undeclared prefix is an "unbound prefix" error.
    """
    parser = ParserCreate(namespace_separator=NAMESPACE_SEPARATOR)
    parser.SetParamEntityParsing(XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.buffer_text = True
    parser.buffer_size = TEXT_BUFFER
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    return parser


def refuse_doctype(root: etree._Element) -> None:
    """Raise UnsafeXml when the parsed document carries a DOCTYPE (the byte check's backstop)."""
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise UnsafeXml("document type declarations are not accepted")


def parse_bytes(data: bytes, *, max_bytes: int) -> etree._Element:
    if len(data) > max_bytes:
        raise UnsafeXml(f"document is {len(data)} bytes, over the {max_bytes}-byte limit")
    if _DTD.search(data):
        raise UnsafeXml("document type declarations are not accepted")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from None
    refuse_doctype(root)
    return root


def document_start(text: str | bytes) -> int:
    """Where the document in text that already arrived as Unicode (qbXML inside a SOAP string)
    starts: after byte-order marks that survived decoding and the declaration, whose encoding
    (QuickBooks writes utf-8 or windows-1252) no longer applies once the text is decoded.
    Bytes are that text's UTF-8 (soap.SoapCall.response): the same places, in bytes."""
    if isinstance(text, bytes):
        start = 0
        while text.startswith(_BOM, start):
            start += len(_BOM)
        found = _DECLARATION_BYTES.match(text, start)
        return found.end() if found else start
    start = 0
    while text.startswith("\ufeff", start):
        start += 1
    declaration = _DECLARATION.match(text, start)
    return declaration.end() if declaration else start


def utf8_slices(text: str | bytes, start: int = 0) -> Iterator[bytes]:
    """text[start:] encoded to UTF-8 a slice at a time (never a second copy of a whole page);
    UTF-8 already (bytes) is only sliced."""
    if isinstance(text, bytes):
        for i in range(start, len(text), SLICE_CHARS):
            yield text[i : i + SLICE_CHARS]
        return
    for i in range(start, len(text), SLICE_CHARS):
        yield text[i : i + SLICE_CHARS].encode("utf-8")


def check_text(text: str | bytes, start: int, *, max_bytes: int) -> None:
    """parse_bytes' checks before parsing, on decoded text (or its UTF-8) from `start`
    (document_start) without encoding it whole: its UTF-8 size within max_bytes, no DOCTYPE or
    ENTITY. Raises UnsafeXml."""
    if isinstance(text, bytes):
        size = len(text) - start
        dtd = _DTD.search(text, start) is not None
    else:
        size = len(text) - start if text.isascii() else sum(len(piece) for piece in utf8_slices(text, start))
        dtd = _DTD_TEXT.search(text, start) is not None
    if size > max_bytes:
        raise UnsafeXml(f"document is {size} bytes, over the {max_bytes}-byte limit")
    if dtd:
        raise UnsafeXml("document type declarations are not accepted")


def parse_text(text: str, *, max_bytes: int) -> etree._Element:
    """Parse XML that already arrived as Unicode (see document_start)."""
    return parse_bytes(text[document_start(text) :].encode("utf-8"), max_bytes=max_bytes)
