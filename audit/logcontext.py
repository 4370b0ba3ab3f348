"""Who a log line is about: tenant and session ids bound for the current call or task.

The SOAP view and the push runner open a context; code deeper down binds what it
learns (qbwc.tickets binds the session once the ticket is resolved). The logging
filter in connector.logging copies the values onto every record, so each line of
a call carries them. Only ids and short codes go here, never secrets or client text.
This is log metadata only: business code always takes the tenant explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_context: ContextVar[dict[str, object] | None] = ContextVar("ml_connector_log_context", default=None)


def log_context_start() -> Token[dict[str, object] | None]:
    """A fresh, empty context for one SOAP call or task; pass the token to log_context_end."""
    return _context.set({})


def log_context_end(token: Token[dict[str, object] | None]) -> None:
    _context.reset(token)


def log_context_bind(**values: object) -> None:
    """Add ids to the current context (ignored outside one)."""
    current = _context.get()
    if current is not None:
        current.update({k: v for k, v in values.items() if v is not None})


def log_context() -> dict[str, object]:
    return dict(_context.get() or {})


@contextmanager
def log_scope(**values: object) -> Iterator[None]:
    """A fresh context holding `values` for the duration of the block (a task, a call)."""
    token = log_context_start()
    log_context_bind(**values)
    try:
        yield
    finally:
        log_context_end(token)
