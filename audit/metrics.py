"""Prometheus metrics of both integrations, and the one structured log line per observed call.

Low in the dependency graph on purpose: qbwc, procore_sync and audit call these
helpers at their real code points (one line each); connector serves them
(connector.metrics_view) together with gauges read from the database at scrape
time (connector.metrics_collector). Labels are bounded sets (operation names,
record kinds, normalised routes, outcome words): never a free-text value.

Multi-process: with PROMETHEUS_MULTIPROC_DIR set before start-up, every process
(web server workers, Celery worker processes) writes its samples to files in that
directory and the scrape merges them. Files are named by host name and pid, so
containers sharing one volume never write the same file.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import time
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram, values

from audit.logcontext import log_context, log_context_end, log_context_start

log = logging.getLogger("ml_connector.events")

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if not MULTIPROC_DIR:
    # Set but empty (a copied .env): prometheus-client would write its files to the working directory.
    values.ValueClass = values.MutexValue
else:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    if not os.access(MULTIPROC_DIR, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={MULTIPROC_DIR!r} is not writable by this process")
    _host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())
    # The default identifier is the pid alone, which repeats across containers.
    values.ValueClass = values.MultiProcessValue(lambda: f"{_host}-{os.getpid()}")

PREFIX = "mlconnector"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

SOAP_CALLS = Counter(f"{PREFIX}_qbwc_soap_calls", "SOAP calls by operation and outcome", ["method", "outcome"])
SOAP_SECONDS = Histogram(f"{PREFIX}_qbwc_soap_seconds", "SOAP call latency", ["method"], buckets=_LATENCY)
QBWC_LOGINS = Counter(f"{PREFIX}_qbwc_logins", "authenticate answers by outcome", ["outcome"])
QBWC_SESSIONS = Counter(f"{PREFIX}_qbwc_sessions", "Web Connector sessions ended, by outcome", ["outcome"])
RECORDS = Counter(
    f"{PREFIX}_records", "Record state changes by kind: received, pushed, failed, waiting, ...", ["kind", "state"]
)
PUSH_ATTEMPTS = Counter(f"{PREFIX}_push_attempts", "Outbox push attempts by operation and outcome", ["op", "outcome"])
PUSH_SECONDS = Histogram(f"{PREFIX}_push_seconds", "Push attempt duration", ["op"], buckets=_LATENCY)
PROCORE_REQUESTS = Counter(
    f"{PREFIX}_procore_requests", "HTTP requests to Procore by route and status", ["method", "route", "status"]
)
PROCORE_RATE_LIMITED = Counter(f"{PREFIX}_procore_rate_limited", "429 answers from Procore", ["route"])
TOKEN_REQUESTS = Counter(
    f"{PREFIX}_procore_token_requests", "OAuth token requests by grant and outcome", ["grant", "outcome"]
)

# Record states that stand for the families an operator asks about.
STATE_FAMILY = {
    "received": "received",
    "synced": "pushed",
    "deleted": "pushed",
    "failed": "failed",
    "waiting": "waiting",
}

_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def route_of(path: str) -> str:
    """`/rest/v1.0/vendors/123?company_id=1` -> `/rest/v1.0/vendors/{id}` (bounded label values)."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])[:120] or "/"


def _after_commit(fn: object) -> None:
    # A rolled-back transaction changed nothing, so it counts nothing.
    transaction.on_commit(fn)  # type: ignore[arg-type]


# --- QBWC ------------------------------------------------------------------------


def soap_call_observed(*, method: str, outcome: str, seconds: float, extra: dict[str, object] | None = None) -> None:
    """One SOAP call answered: latency, count, and its log line (tenant/session come from the log context)."""
    SOAP_CALLS.labels(method, outcome).inc()
    SOAP_SECONDS.labels(method).observe(seconds)
    log.info(
        "qbwc %s %s in %.0f ms",
        method,
        outcome,
        seconds * 1000,
        extra={"event": "qbwc.soap", "method": method, "outcome": outcome, "duration_ms": round(seconds * 1000, 1)}
        | (extra or {}),
    )


def qbwc_login_observed(result: list[str]) -> list[str]:
    """Count an authenticate answer ([ticket, "" | "nvu" | "none" | "busy" | company file, ...]); return it."""
    code = result[1] if len(result) > 1 else ""
    QBWC_LOGINS.labels(code if code in ("nvu", "none", "busy") else "opened" if result and result[0] else "other").inc()
    return result


def qbwc_session_ended(*, outcome: str, count: int = 1) -> None:
    """done, failed, closed_early or expired ("" counts nothing); counted when the caller's transaction commits."""
    if count > 0 and outcome:
        _after_commit(lambda: QBWC_SESSIONS.labels(outcome).inc(count))


# --- records ---------------------------------------------------------------------


def record_state_counted(*, kind: str, state: str, count: int = 1) -> None:
    """`count` records of `kind` entered `state`; counted when the caller's transaction commits."""
    if state in STATE_FAMILY and count > 0:
        _after_commit(lambda: RECORDS.labels(kind, STATE_FAMILY[state]).inc(count))


# --- Procore ---------------------------------------------------------------------


def procore_call_observed(*, method: str, path: str, status: int | None, error: str = "") -> None:
    route = route_of(path)
    if route == "/oauth/token":
        return  # the client's refresh record may be a reuse without HTTP; token_request_observed counts real ones
    PROCORE_REQUESTS.labels(method, route, str(status) if status is not None else error or "error").inc()
    if status == 429:
        PROCORE_RATE_LIMITED.labels(route).inc()


def token_request_observed(*, grant: str, outcome: str) -> None:
    TOKEN_REQUESTS.labels(grant or "unknown", outcome).inc()


def push_attempt_observed(
    *, op: str, outcome: str, seconds: float, tenant: str, job_id: int, record_id: int, attempt: int
) -> None:
    """One outbox job's attempt finished: count, duration and its log line.

    `outcome` may be a result class name (Done, TransientError): it is logged in snake case.
    """
    outcome = _snake(outcome)
    PUSH_ATTEMPTS.labels(op, outcome).inc()
    PUSH_SECONDS.labels(op).observe(seconds)
    log.info(
        "push %s job %s record %s: %s in %.0f ms",
        op,
        job_id,
        record_id,
        outcome,
        seconds * 1000,
        extra={
            "event": "procore.push",
            "tenant": tenant,
            "job_id": job_id,
            "record_id": record_id,
            "op": op,
            "attempt": attempt,
            "outcome": outcome,
            "duration_ms": round(seconds * 1000, 1),
        },
    )


def soap_observed(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Decorate the SOAP view: a fresh log context per call, then latency, count and one log line.

    The view binds `method` once it has parsed the call; a 500 answer is a SOAP Fault.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        token = log_context_start()
        started = time.perf_counter()
        try:
            response = view(request)
            # Only parsed operation names become label values: a client's HTTP verb could be anything.
            method = str(log_context().get("method") or ("GET" if request.method == "GET" else "invalid"))
            soap_call_observed(
                method=method,
                outcome="ok" if response.status_code < 400 else "fault",
                seconds=time.perf_counter() - started,
            )
            return response
        finally:
            log_context_end(token)

    return wrapper


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
