"""`python -m peers.procore_emulator --port 8765 [--seed FILE]`: the emulator without Django.

The bench runs it this way in its own process, so the emulator does not share
a GIL with the pusher it measures. `manage.py procore_emulator` is the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from peers.procore_emulator.server import ProcoreEmulator
from peers.procore_emulator.state import DEFAULT_SEED, EmulatorState


def parse_windows(text: str) -> list[tuple[int, float]]:
    """ "3600/3600,1000/10" → [(3600, 3600.0), (1000, 10.0)]."""
    windows = []
    for part in text.split(","):
        limit, seconds = part.strip().split("/")
        windows.append((int(limit), float(seconds)))
    return windows


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED)
    parser.add_argument("--token-ttl", type=int, default=5400, help="access-token lifetime in seconds")
    parser.add_argument(
        "--admin-client",
        action="append",
        default=[],
        help="OAuth client id acting as a Procore admin (may change any invoice); repeatable",
    )
    parser.add_argument(
        "--rate-limit",
        default="3600/3600,1000/10",
        help="rate windows as LIMIT/SECONDS, comma separated (hourly and spike by default)",
    )


def serve(options: dict[str, object], out: object = sys.stdout) -> None:
    state = EmulatorState(token_ttl=int(options["token_ttl"]))  # type: ignore[call-overload]
    state.set_rate_limits(parse_windows(str(options["rate_limit"])))
    state.admin_clients.update(str(c) for c in options.get("admin_client") or [])  # type: ignore[attr-defined]
    ids = state.load_seed_file(Path(str(options["seed"])))
    emulator = ProcoreEmulator(state, host=str(options["host"]), port=int(options["port"])).start()  # type: ignore[call-overload]
    company = next(iter(state.companies.values()))
    lines = [f"Procore emulator on {emulator.url} — company {company['id']} {company['name']}"]
    lines += [f"  project {v}: {k.removeprefix('project:')}" for k, v in ids.items() if k.startswith("project:")]
    lines += [f"  OAuth client: {c}" for c in state.clients]
    lines.append("Point PROCORE_SANDBOX_API_URL and PROCORE_SANDBOX_LOGIN_URL here. Ctrl-C stops it.")
    print("\n".join(lines), file=out, flush=True)  # type: ignore[call-overload]
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m peers.procore_emulator")
    arguments(parser)
    serve(vars(parser.parse_args()))
