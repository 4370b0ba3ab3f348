"""`make demo`: the whole product on embedded defaults, end to end, then left serving.

What it does, in order (a progress line for each):
1. a fresh SQLite database and filesystem broker under var/demo/;
2. starts the Procore emulator, the web server (granian) and a Celery worker with beat;
3. creates the demo tenant (sandbox pointed at the emulator), its users and most mappings;
4. plays the QuickBooks Web Connector (simulator) for the sample construction company:
   a first full run, then an incremental run with edits and deletions;
5. prints what happened, has "the accountant" map the vendors still waiting, and reconciles
   QuickBooks against Procore to the cent.
Then it serves until Ctrl-C, which stops everything it started. With DEMO_ONCE=1 it exits
after the summary: 0 only if every record reconciled.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connector.webserver import server_args

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SLUG = "demo"
UNMAPPED_AT_FIRST = 3  # vendors left for "the accountant" to map after the first runs


def say(message: str) -> None:
    print(f"» {message}", flush=True)


_last_progress: list[object] = ["", 0.0]


def progress(message: str) -> None:
    """One line that updates in place on a terminal; in a log, a line every few seconds."""
    if message == _last_progress[0]:
        return
    if sys.stdout.isatty():
        print(f"\r  {message:<90}", end="", flush=True)
    elif time.monotonic() - float(_last_progress[1]) > 3:  # type: ignore[arg-type]
        print(f"  {message}", flush=True)
        _last_progress[1] = time.monotonic()
    _last_progress[0] = message


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))  # 0 asks the OS for any free port
            return int(sock.getsockname()[1])
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def wait_http(url: str, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f}s (see the logs under var/demo/logs)")


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
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def spawn(procs: list[subprocess.Popen[bytes]], args: list[str], *, env: dict[str, str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    procs.append(
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def demo_environment() -> tuple[dict[str, str], Path, int, int]:
    var_dir = Path(os.environ.get("DEMO_VAR_DIR") or ROOT / "var" / "demo")
    web_port = free_port(int(os.environ.get("DEMO_PORT", "8000")))
    emu_port = free_port(int(os.environ.get("DEMO_EMULATOR_PORT", "8765")))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    emulator = f"http://127.0.0.1:{emu_port}"
    env.update(
        {
            "DEBUG": "1",
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": f"sqlite:///{var_dir / 'demo.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            "PROCORE_SANDBOX_API_URL": emulator,
            "PROCORE_SANDBOX_LOGIN_URL": emulator,
            "DJANGO_SETTINGS_MODULE": "connector.settings",
            # Run 2 follows run 1 at once; a real Web Connector would wait its schedule.
            "QBWC_MIN_SECONDS_BETWEEN_RUNS": "0",
            # Short retry backoff so an injected or real transient error resolves within the demo.
            "PROCORE_JOB_RETRY_BASE_SECONDS": env.get("PROCORE_JOB_RETRY_BASE_SECONDS", "2"),
            # issue 12b: /metrics on, pooled across the web server's and Celery's processes (emptied with var_dir).
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "metrics"),
            "METRICS_TOKEN": env.get("METRICS_TOKEN") or secrets.token_urlsafe(24),
        }
    )
    return env, var_dir, web_port, emu_port


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    once = os.environ.get("DEMO_ONCE") == "1"
    env, var_dir, web_port, emu_port = demo_environment()
    base = f"http://127.0.0.1:{web_port}"

    say(f"fresh demo state under {var_dir} (SQLite, filesystem broker; nothing else needed)")
    shutil.rmtree(var_dir, ignore_errors=True)
    (var_dir / "logs").mkdir(parents=True)
    os.environ.update(env)
    import django

    django.setup()
    # kombu warns that filesystem:// names no host; that is how the embedded broker is spelled.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("setup_periodic_tasks", stdout=open(os.devnull, "w"))  # noqa: SIM115

    try:
        with children() as procs:
            say(f"starting the Procore emulator on 127.0.0.1:{emu_port}")
            # Procore's default windows (3 600/hour, spike 1 000/10 s) unless DEMO_PROCORE_RATE_LIMIT says otherwise.
            # The demo's service account is a Procore admin, as ERP integrations' usually are: the
            # bookkeeper's edits of older bills then change their invoices in place (a non-admin's
            # would wait for a person in Procore; see docs/invoices.md and test_invoice_rules.py).
            spawn(
                procs,
                [
                    PY,
                    "-m",
                    "peers.procore_emulator",
                    "--port",
                    str(emu_port),
                    "--admin-client",
                    "demo-client-id",
                    "--rate-limit",
                    os.environ.get("DEMO_PROCORE_RATE_LIMIT", "3600/3600,1000/10"),
                ],
                env=env,
                log=var_dir / "logs" / "procore-emulator.log",
            )
            wait_http(f"http://127.0.0.1:{emu_port}/_emulator/state")
            say(f"starting the web server on {base} and a Celery worker with beat")
            spawn(
                procs,
                [PY, "-m", "granian", *server_args(host="127.0.0.1", port=web_port, workers=2, threads=4)],
                env=env,
                log=var_dir / "logs" / "web.log",
            )
            spawn(
                procs,
                [
                    PY,
                    "-m",
                    "celery",
                    "-A",
                    "connector",
                    "worker",
                    "-B",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "-s",
                    str(var_dir / "celerybeat-schedule"),
                ],
                env=env,
                log=var_dir / "logs" / "worker.log",
            )
            wait_http(f"{base}/healthz")

            from devtools import demo_story

            story = demo_story.Story(
                base_url=base,
                emulator_url=f"http://127.0.0.1:{emu_port}",
                say=say,
                progress=progress,
                unmapped_at_first=UNMAPPED_AT_FIRST,
            )
            logins = story.setup()
            ok = story.run()
            from devtools.demo_observe import observed_summary  # issue 12b

            for line in observed_summary(base, env["METRICS_TOKEN"]):
                say(line)

            print()
            print(f"  Admin:           {base}/admin/")
            for who, password in logins.items():
                print(f"  Login:           {who} / {password}")
            print(f"  QBWC endpoint:   {base}/qbwc/   (WSDL: {base}/qbwc/?wsdl)")
            print(f"  Procore (emu):   http://127.0.0.1:{emu_port}/_emulator/state")
            print(f"  Logs:            {var_dir / 'logs'}")
            print(f"  Metrics:         curl -H 'Authorization: Bearer {env['METRICS_TOKEN']}' {base}/metrics")
            print(f"  Readiness:       {base}/readyz")
            print()
            if once:
                say("DEMO_ONCE=1: stopping everything" + ("" if ok else " — reconciliation FAILED"))
                return 0 if ok else 1
            say("serving — press Ctrl-C to stop everything")
            while all(p.poll() is None for p in procs):
                time.sleep(1)
            say("a demo process exited unexpectedly; see the logs")
            return 1
    except KeyboardInterrupt:
        print()
        say("stopped")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
