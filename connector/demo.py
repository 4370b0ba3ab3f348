"""`make demo`: run the product on embedded defaults and leave it serving.

SQLite under var/, kombu's filesystem broker, no external service. Everything it
starts is a child process that Ctrl-C (or the end of a DEMO_ONCE=1 run) stops.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def say(message: str) -> None:
    print(f"» {message}", flush=True)


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args[:2])} failed:\n{result.stderr.strip()}")
    return result.stdout


def wait_http(url: str, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s")


@contextmanager
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def spawn(procs: list[subprocess.Popen[bytes]], args: list[str], *, env: dict[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    procs.append(
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    )


def admin_password(var_dir: Path) -> str:
    path = var_dir / "demo-admin-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12))
    return path.read_text().strip()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # `kill` from another terminal stops the children as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    var_dir = Path(env.get("VAR_DIR") or ROOT / "var")
    port = env.get("DEMO_PORT", "8000")
    base = f"http://127.0.0.1:{port}"
    once = env.get("DEMO_ONCE") == "1"

    say("migrating the database (SQLite under var/ unless DATABASE_URL is set)")
    manage("migrate", "--noinput", "-v0", env=env)
    manage("setup_periodic_tasks", env=env)
    password = admin_password(var_dir)
    manage("shell", "-c", _ENSURE_SUPERUSER.format(password=password), env=env)

    with children() as procs:
        say(f"starting the web server on {base}")
        spawn(
            procs,
            [PY, "-m", "gunicorn", "connector.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--timeout", "120"],
            env=env, log=var_dir / "logs" / "web.log",
        )
        wait_http(f"{base}/healthz")
        print()
        print(f"  Admin:        {base}/admin/")
        print(f"  Login:        admin / {password}")
        print(f"  QBWC SOAP:    {base}/qbwc/")
        print(f"  Logs:         {var_dir / 'logs'}")
        print()
        if once:
            say("DEMO_ONCE=1: stopping")
            return 0
        say("serving — press Ctrl-C to stop everything")
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        except KeyboardInterrupt:
            print()
            say("stopping")
            return 0
        say("a server process exited; see the logs above")
        return 1


_ENSURE_SUPERUSER = """
from django.contrib.auth import get_user_model
User = get_user_model()
user, _ = User.objects.get_or_create(username="admin", defaults={{"email": "admin@example.com"}})
user.is_staff = user.is_superuser = True
user.set_password("{password}")
user.save()
"""


if __name__ == "__main__":
    raise SystemExit(main())
