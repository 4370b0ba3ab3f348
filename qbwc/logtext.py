"""PURE: client text made safe for a log line.

Anything a client sent can carry newlines or terminal escapes (a namespace URI with
`&#10;` decodes to a real newline); written raw, it forges log lines. Control
characters become backslash escapes and long text is cut.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object, *, limit: int = 300) -> str:
    value = str(text)
    if len(value) > limit:
        value = value[:limit] + f"…(+{len(value) - limit} chars)"
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), value)
