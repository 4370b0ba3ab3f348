"""The production-shaped server in a subprocess: granian (connector/webserver.py), one
worker process with one thread, DEBUG=0.

For tests that measure the server itself (peak memory of the worker process) or
need it out of the test process. Its database is its own SQLite file under
tmp_path, set up with the real management commands.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from connector.webserver import server_args

ROOT = Path(__file__).resolve().parent.parent
QBWC_PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int, field: str) -> int:
    """A VmXXX line of /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    root: Path = ROOT

    def cpu_seconds(self) -> float:
        """User + system CPU of the worker so far."""
        fields = Path(f"/proc/{self.worker_pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def reset_peak(self) -> int:
        """Reset the worker's peak-RSS mark (Linux clear_refs 5); returns its RSS now."""
        pid = self.worker_pid()
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return _status(pid, "VmRSS")

    def peak(self) -> int:
        return _status(self.worker_pid(), "VmHWM")

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_BROKER_URL"))}
    env.update(
        DEBUG="0",
        SECRET_KEY="web-test-secret-key-0123456789-abcdefghijklmnop",
        FIELD_ENCRYPTION_KEYS="web-test-field-key-0123456789",
        VAR_DIR=str(tmp),
        DATABASE_URL=f"sqlite:///{tmp / 'server.sqlite3'}",
        CELERY_BROKER_URL="filesystem://",
        SESSION_COOKIE_SECURE="0",
        PASSWORD_HASHERS_FAST="1",
        DJANGO_SETTINGS_MODULE="connector.settings",
    )
    env.update(extra)
    return env


@contextmanager
def running_server(tmp: Path, *, root: Path = ROOT, workers: int = 1, **extra_env: str) -> Iterator[Server]:
    """The web server on a free port with a migrated database and tenant acme (password QBWC_PASSWORD)."""
    env = server_env(tmp, **extra_env)
    log = tmp / "web.log"
    port = free_port()
    server = Server(url=f"http://127.0.0.1:{port}", proc=None, env=env, log=log, root=root)  # type: ignore[arg-type]
    server.manage("migrate", "--noinput", "-v", "0")
    server.manage(
        "tenants", "create", "acme", "--name", "Acme", "--qbwc-username", "acme-qbwc",
        "--qbwc-password", QBWC_PASSWORD, "--procore-env", "sandbox",
        "--procore-company-id", "1", "--procore-project-id", "2",
    )  # fmt: skip
    cmd = [sys.executable, "-m", "granian", *server_args(host="127.0.0.1", port=port, workers=workers, threads=1)]
    with log.open("wb") as out:
        server.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the web server did not answer /healthz"
            try:
                if requests.get(server.url + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield server
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as server:
        yield server
