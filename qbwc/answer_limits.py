"""PURE: is a qbXML answer within what we asked for? Checked before the full parse.

A query carries MaxReturned (vendors, bills); QuickBooks never returns more records
than that in one answer, so more means a broken or hostile peer, and building tens
of thousands of records would run past the worker timeout. The count is a regex
over the text (no tree), so it costs milliseconds even for a 9 MB answer.
"""

from __future__ import annotations

import re

# Steps whose request carries MaxReturned -> the record element their answer holds.
COUNTED: dict[str, str] = {"vendors": "VendorRet", "bills": "BillRet"}
_PATTERNS = {step: re.compile(rf"<{tag}[\s>/]") for step, tag in COUNTED.items()}


def answer_refusal(text: str, *, step: str, max_chars: int, max_records: int) -> str:
    """Why the answer is refused before parsing ("" = go on and parse it)."""
    if len(text) > max_chars:
        return f"the answer is {len(text)} characters, over the {max_chars}-character limit"
    pattern = _PATTERNS.get(step)
    if pattern is not None:
        count = sum(1 for _ in pattern.finditer(text))
        if count > max_records:
            return f"it holds {count} records, more than the {max_records} (MaxReturned) we asked for"
    return ""
