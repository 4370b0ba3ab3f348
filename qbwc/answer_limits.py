"""PURE: is a qbXML answer within what we asked for? Checked before the full parse.

A query carries MaxReturned (vendors, bills); QuickBooks never returns more records
than that in one answer, so more means a broken or hostile peer, and building tens
of thousands of records would run past the worker timeout. The count is a regex
over the text (no tree), so it costs milliseconds even for a 9 MB answer. The answer
is its UTF-8 as the SOAP reader keeps it (soap.SoapCall.response), or text.
"""

from __future__ import annotations

import re

# Steps whose request carries MaxReturned -> the record element their answer holds.
COUNTED: dict[str, str] = {"vendors": "VendorRet", "bills": "BillRet"}
_PATTERNS = {step: re.compile(rf"<{tag}[\s>/]") for step, tag in COUNTED.items()}
# The same over UTF-8: the tags and delimiters are ASCII, and `\s` of a bytes pattern is ASCII
# whitespace, the only whitespace XML allows after a tag name.
_BYTE_PATTERNS = {step: re.compile(rf"<{tag}[\s>/]".encode()) for step, tag in COUNTED.items()}


def answer_refusal(text: str | bytes, *, step: str, max_chars: int, max_records: int) -> str:
    """Why the answer is refused before parsing ("" = go on and parse it). `max_chars` counts
    characters of text, bytes of UTF-8."""
    unit = "byte" if isinstance(text, bytes) else "character"
    if len(text) > max_chars:
        return f"the answer is {len(text)} {unit}s, over the {max_chars}-{unit} limit"
    count = _records(text, step)
    if count is not None and count > max_records:
        return f"it holds {count} records, more than the {max_records} (MaxReturned) we asked for"
    return ""


def _records(text: str | bytes, step: str) -> int | None:
    """How many record elements the answer names (None: the step's query carries no MaxReturned)."""
    if isinstance(text, bytes):
        in_bytes = _BYTE_PATTERNS.get(step)
        return None if in_bytes is None else sum(1 for _ in in_bytes.finditer(text))
    pattern = _PATTERNS.get(step)
    return None if pattern is None else sum(1 for _ in pattern.finditer(text))
