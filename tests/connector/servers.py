"""Throwaway servers for the readiness and multi-process tests: never the machine's shared ones.

A redis-server and a PostgreSQL cluster of our own on free ports (so a test may kill
them), and the product's real processes (the web server, a Celery worker with embedded beat)
started as subprocesses with their own environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from connector.webserver import server_args

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, *, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():  # type: ignore[operator]
                return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _accepts(self.port), timeout=10, message="redis-server")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the machine's postgres account runs our own cluster.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresCluster:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/readiness"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._ctl("-o", options, "-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


def postgres_available() -> bool:
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    # Not under pytest's tmp_path: that is private to root, and the cluster runs as postgres.
    tmp = Path(tempfile.mkdtemp(prefix="ml-readiness-pg-"))
    tmp.chmod(0o755)
    data = tmp / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-U", "postgres", "--auth", "trust"]),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cluster = PostgresCluster(data, free_port())
    cluster.start()
    try:
        subprocess.run(
            _as_postgres(["createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "readiness"]),
            check=True,
        )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster._ctl("-m", "immediate", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


def product_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "PROMETHEUS_", "METRICS_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "connector.settings",
            "DEBUG": "0",
            "SECRET_KEY": "throwaway-secret-key-that-is-long-enough-0123456789",
            "FIELD_ENCRYPTION_KEYS": "throwaway-field-key-0123456789",
            "VAR_DIR": str(tmp / "var"),
            "SESSION_COOKIE_SECURE": "0",
            "PASSWORD_HASHERS_FAST": "1",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
        }
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


@dataclass
class Processes:
    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def web(self, *, workers: int = 1) -> str:
        port = free_port()
        self.spawn("web", "granian", *server_args(host="127.0.0.1", port=port, workers=workers, threads=1))
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(base + "/healthz", timeout=2).ok, timeout=60, message="the web server")
        return base

    def worker_with_beat(self) -> None:
        self.spawn(
            "worker",
            "celery",
            "-A",
            "connector",
            "worker",
            "-B",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "-s",
            str(self.logs / "celerybeat-schedule"),
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@contextlib.contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    logs.mkdir(parents=True, exist_ok=True)
    running = Processes(env, logs)
    try:
        yield running
    finally:
        running.stop()
