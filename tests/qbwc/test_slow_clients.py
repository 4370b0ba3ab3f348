"""Finding 2: slow clients do not pin the web server's threads behind the documented nginx.

Runs deploy/nginx.conf itself (TLS and the http->https server dropped: no
certificate here) in front of the web server (granian, one worker process with one
thread), when nginx is installed. Four clients dribble a body one byte a second; a
normal request must still be answered. The same request straight to the web server
waits behind them (granian hands the request to the app when its headers arrive, and
the app's thread then waits for the body), which is what the test shows first, so it
can fail.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness_web import ROOT, Server, free_port, running_server

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(NGINX is None, reason="nginx is not installed")]


def local_conf(upstream_port: int, listen_port: int, tmp: Path) -> str:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
    conf = re.sub(r"    server \{\n        listen 80;.*?\n    \}\n", "", conf, count=1, flags=re.S)
    conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen_port};")
    conf = re.sub(r"^\s*(http2|ssl_\w+) [^;]+;\n", "", conf, flags=re.M)
    temp = "".join(
        f"    {kind}_temp_path {tmp / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", f"http {{\n{temp}    access_log off;\n", 1)
    return f"user root;\nerror_log {tmp / 'error.log'};\npid {tmp / 'nginx.pid'};\n" + conf


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with running_server(tmp_path) as server:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        upstream = int(server.url.rsplit(":", 1)[1])
        conf.write_text(local_conf(upstream, port, tmp_path))
        proc = subprocess.Popen([NGINX or "nginx", "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"])
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                    time.sleep(0.2)
            yield server, f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def dribble(url: str, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        # A Host the app accepts: one it refuses (DisallowedHost) is answered before the body is read.
        head = f"POST /qbwc/ HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n"
        sock.sendall(head.encode())
        while not stop.wait(1.0):
            try:
                sock.sendall(b"<")
            except OSError:
                return


def slow_clients(url: str, stop: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=dribble, args=(url, stop), daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)  # they are connected and sending
    return threads


def test_slow_clients_pin_the_bare_web_server_but_not_the_one_behind_nginx(stack: tuple[Server, str]) -> None:
    server, proxy = stack
    stop = threading.Event()
    threads = slow_clients(server.url, stop)
    try:
        with pytest.raises(requests.Timeout):  # the bare server: its one thread is stuck reading
            requests.get(server.url + "/healthz", timeout=4)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)

    stop = threading.Event()
    threads = slow_clients(proxy, stop)
    try:
        answered = requests.get(proxy + "/healthz", timeout=10)  # a generous ceiling, not a timing claim
        assert answered.status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
