"""Log formats: `plain` (one escaped line per record) or `json` (one JSON object per line).

LOG_FORMAT selects one (connector.settings). Both run every message and field through
the project's redaction rules (audit.redact) and keep one record on one line, so text a
client sent (a username, a QuickBooks error message) can neither hide a secret nor forge
a second log line. ContextFilter adds the ids bound in audit.logcontext (tenant,
session) to every record of a SOAP call or push.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from audit.logcontext import log_context
from audit.redact import redact, redact_text

# Attributes every LogRecord has; anything else on a record came from `extra=` or the filter.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape(text: str) -> str:
    """Control characters (newlines included) as visible escapes: one record stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's extra fields, redacted once (secret-looking keys masked, strings cleaned)."""
    fields = {
        k: v if v is None or isinstance(v, str | bool | int | float | dict | list | tuple) else str(v)
        for k, v in record.__dict__.items()
        if k not in _STANDARD and not k.startswith("_")
    }
    return redact(fields)  # type: ignore[no-any-return]


class ContextFilter(logging.Filter):
    """Copies the current log context (tenant_id, session_id, method, ...) onto the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in log_context().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, escaped and redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        message = escape(redact_text(record.getMessage()))
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
        fields = " ".join(f"{escape(k)}={_plain_value(v)}" for k, v in _fields(record).items())
        if fields:
            line += " " + fields
        if record.exc_info:
            # A traceback keeps its lines, indented so none of them reads as a record of its own.
            trace = redact_text(self.formatException(record.exc_info))
            line += "\n    " + "\n    ".join(escape(t) for t in trace.splitlines())
        return line


def _plain_value(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = escape(text)
    return json.dumps(text) if (" " in text or '"' in text or "=" in text or not text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then every field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key, value in _fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = redact_text(self.formatException(record.exc_info))
        # json.dumps escapes control characters; U+2028/2029 it leaves raw, and they split lines too.
        text = json.dumps(data, default=str, ensure_ascii=False)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
