"""Finding 2: the documented production topology puts a buffering nginx in front of the web server.

Docker does not run here, so the files are checked; tests/qbwc/test_slow_clients.py
runs the same nginx.conf against the web server (granian) when nginx is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONF = (ROOT / "deploy" / "nginx.conf").read_text()


def directive(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", CONF, re.M)


def test_only_the_proxy_is_published_and_the_app_trusts_its_headers() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "ports" not in services["web"], "the web server must not face clients directly"
    assert services["web"]["environment"]["BEHIND_PROXY"] == "1"
    assert services["proxy"]["image"].startswith("nginx")
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]


def test_nginx_buffers_requests_and_cuts_off_slow_clients() -> None:
    assert directive("proxy_request_buffering") == ["on"]
    assert directive("proxy_buffering") == ["on"]
    assert directive("client_max_body_size") == ["50m"]  # = QBWC_MAX_BODY_BYTES
    for timeout in ("client_body_timeout", "client_header_timeout", "send_timeout"):
        (value,) = directive(timeout)
        assert int(value.rstrip("s")) <= 30, timeout
    headers = dict(v.split(None, 1) for v in directive("proxy_set_header"))
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-For"] == "$remote_addr"  # set, not appended: one trustworthy address
