"""Typed Procore errors. Each one says whether trying again can help.

Status mapping (done once, in client.py): 401 → refresh once, then AuthError;
403 → Forbidden (permanent: app not installed / wrong company); 404 → NotFound;
422 → ValidationFailed (permanent, Procore's messages kept); 429 → RateLimited
(transient, with a delay); 5xx, timeouts, connection errors → TransientError.
"""

from __future__ import annotations

from typing import Any


class ProcoreError(Exception):
    """Base class. `permanent` is False when the same call may succeed later."""

    permanent: bool = True

    def __init__(
        self,
        message: str,
        *,
        permanent: bool | None = None,
        status: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if permanent is not None:
            self.permanent = permanent
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status else ""
        return prefix + self.message


class TransientError(ProcoreError):
    """5xx, timeout or connection error that outlived the client's bounded retries.

    `maybe_committed` is True when the request may have reached Procore (a
    timeout or a dropped response after sending): a create must then be looked
    up by origin_id before it is tried again.
    """

    permanent = False

    def __init__(self, message: str, *, maybe_committed: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_committed = maybe_committed


class RateLimited(ProcoreError):
    """The rate-limit window is exhausted for longer than the client may wait."""

    permanent = False


class NotFound(ProcoreError):
    permanent = True


class Forbidden(ProcoreError):
    """403: the app is not installed in that company, or the company header is wrong."""

    permanent = True


class ValidationFailed(ProcoreError):
    """422 with Procore's `errors` object (field → messages)."""

    permanent = True


class AuthError(ProcoreError):
    """Still 401 after one refresh, or the token endpoint refused the credentials."""

    permanent = True


class ReconnectNeeded(AuthError):
    """The refresh token is gone (used, revoked or its response lost): a person must reconnect."""

    permanent = True
