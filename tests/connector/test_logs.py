"""Structured logs: one line per SOAP call and per push attempt, in both formats, escaped and redacted."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audit.models import PushJob
from connector.logformat import ContextFilter, JsonFormatter, PlainFormatter
from tests.drills.harness import Drill, dataset
from tests.factories import PASSWORD
from tests.harness_procore import Tenants

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Captured:
    plain: io.StringIO
    json: io.StringIO

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.json.getvalue().splitlines()]

    def plain_lines(self) -> list[str]:
        return self.plain.getvalue().splitlines()


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Both formatters on the root logger, as LOG_FORMAT=plain / json configure them."""
    streams = Captured(io.StringIO(), io.StringIO())
    handlers = []
    for stream, formatter in ((streams.plain, PlainFormatter()), (streams.json, JsonFormatter())):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handlers.append(handler)
        logging.getLogger().addHandler(handler)
    events = logging.getLogger("ml_connector.events")
    level = events.level
    events.setLevel(logging.INFO)
    yield streams
    events.setLevel(level)
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def drill(live_server: Any, acme_globex: Tenants, celery_worker: Any, qbwc_settings: Any) -> Iterator[Drill]:
    harness = Drill(t=acme_globex, url=live_server.url + "/qbwc/")
    yield harness
    harness.close()


def test_one_line_per_soap_call_and_per_push_attempt_with_ids_outcome_and_duration(
    drill: Drill, captured: Captured
) -> None:
    acme = drill.t.acme
    company = drill.company(dataset(vendors=4, bills=8))
    result = drill.sync(company)
    lines = captured.json_lines()

    soap = [line for line in lines if line.get("event") == "qbwc.soap"]
    assert [line["method"] for line in soap] == result.calls
    session_ids = {
        line.get("session_id")
        for line in soap
        if line["method"] != "serverVersion" and line["method"] != "clientVersion"
    }
    assert len(session_ids) == 1 and None not in session_ids, "every call of the session names it"
    for line in soap:
        assert line["outcome"] == "ok" and isinstance(line["duration_ms"], float)
        if line["method"] not in ("serverVersion", "clientVersion"):
            assert line["tenant_id"] == acme.pk

    pushes = [line for line in lines if line.get("event") == "procore.push"]
    assert pushes, "push attempts were logged"
    assert {line["job_id"] for line in pushes} == set(PushJob.objects.filter(tenant=acme).values_list("pk", flat=True))
    for line in pushes:
        assert line["tenant"] == "acme" and line["outcome"] == "done" and line["record_id"] and line["duration_ms"] >= 0

    plain = captured.plain_lines()
    soap_plain = [line for line in plain if "event=qbwc.soap" in line]
    assert len(soap_plain) == len(soap)
    assert all(
        f"tenant_id={acme.pk}" in line and "duration_ms=" in line for line in soap_plain if "authenticate" in line
    )
    assert sum("event=procore.push" in line and "tenant=acme" in line for line in plain) == len(pushes)

    everything = captured.plain.getvalue() + captured.json.getvalue()
    assert PASSWORD not in everything and result.ticket not in everything
    for conn in (drill.t.connection(acme),):
        assert conn.access_token not in everything and (conn.refresh_token or "§") not in everything


HOSTILE = (
    "QuickBooks said:\nFORGED 2026-12-01 00:00:00 INFO forged: ok\r\x1b[31m\u2028 Bearer sk-live-123 refresh_token=abc"
)


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("qbwc.session", logging.WARNING, __file__, 1, "session failed: %s", (message,), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_client_text_cannot_forge_a_line_or_leak_a_secret_in_either_format() -> None:
    record = _record(HOSTILE, company_file="C:\\Books\nFORGED", client_secret="s3cr3t", tenant_id=1)
    plain = PlainFormatter().format(record)
    assert "\n" not in plain and "\r" not in plain and "\x1b" not in plain and "\u2028" not in plain
    assert "\\nFORGED" in plain and "\\x1b" in plain
    as_json = JsonFormatter().format(record)
    assert len(as_json.splitlines()) == 1 and "\u2028" not in as_json
    data = json.loads(as_json)
    assert data["message"].startswith("session failed: QuickBooks said:\nFORGED")  # kept, but inside a string
    for text in (plain, as_json):
        assert "sk-live-123" not in text and "abc" not in text.replace("abcdef", "") and "s3cr3t" not in text
        assert "[redacted]" in text
    assert data["client_secret"] == "[redacted]" and data["tenant_id"] == 1


def test_a_traceback_stays_indented_under_its_record() -> None:
    try:
        raise ValueError("bad\nFORGED line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    lines = PlainFormatter().format(record).splitlines()
    assert lines[0].endswith("x: boom")
    assert all(line.startswith("    ") for line in lines[1:])
    assert json.loads(JsonFormatter().format(record))["exception"].startswith("Traceback")


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR")}
    base |= {"DJANGO_SETTINGS_MODULE": "connector.settings", "DEBUG": "1", "VAR_DIR": str(ROOT / "var" / "logs-test")}
    code = "import django, logging; django.setup(); logging.getLogger('probe').warning('access_token=%s', 'abc123')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60
    )


def test_log_format_is_chosen_by_the_environment() -> None:
    as_json = _start(LOG_FORMAT="json")
    assert as_json.returncode == 0, as_json.stderr
    line = json.loads(as_json.stderr.strip().splitlines()[-1])
    assert line["logger"] == "probe" and line["level"] == "WARNING" and "abc123" not in line["message"]
    plain = _start()
    assert plain.returncode == 0 and " WARNING probe: access_token=" in plain.stderr and "abc123" not in plain.stderr
    bad = _start(LOG_FORMAT="xml")
    assert bad.returncode != 0 and "LOG_FORMAT" in bad.stderr
