"""`python -m bench [--quick]`: every benchmark of issue 6, one after the other, with their output.

Default sizes finish in about 10-15 minutes on 2 cores; --quick in about 2-3
minutes (smaller counts, same code paths). Each benchmark runs in its own
subprocess and prints ratios against a baseline measured in the same run; the
runner only sequences them and says how long each took. Exit code: 0 when every
benchmark exited 0.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, no password; the scale and
workers benchmarks create and drop their own databases) and Redis on
127.0.0.1:6379 (dbs 8 and 9). See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (script, default arguments, --quick arguments)
# fmt: off
BENCHES: list[tuple[str, list[str], list[str]]] = [
    (
        "bench_qbwc.py",
        ["--sessions", "20", "--bills", "10000", "--page-sizes", "500,2000"],
        ["--sessions", "5", "--bills", "2000", "--page-sizes", "500"],
    ),
    (
        "bench_push.py",
        ["--vendors", "1000", "--bills", "4000", "--limit", "1500", "--window", "10"],
        ["--vendors", "200", "--bills", "600", "--limit", "1500", "--window", "10"],
    ),
    (
        "bench_scale.py",
        ["--tenants", "1000", "--concurrency", "64", "--web-workers", "2", "--rounds", "2"],
        ["--tenants", "200", "--concurrency", "32", "--web-workers", "2", "--rounds", "2"],
    ),
    (
        "bench_workers.py",
        ["--workers", "1,2,4", "--tenants", "8", "--vendors", "20", "--bills", "150", "--limit", "150", "--window", "5"],
        ["--workers", "1,2,4", "--tenants", "4", "--vendors", "10", "--bills", "40", "--limit", "150", "--window", "5"],
    ),
]
# fmt: on


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes: about 2-3 minutes in all")
    parser.add_argument("--only", action="append", choices=[b[0].removesuffix(".py") for b in BENCHES],
                        help="run only this benchmark (repeatable)")  # fmt: skip
    args = parser.parse_args()
    failed: list[str] = []
    timings: list[tuple[str, float, int]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-all-") as var_dir:
        for script, full, quick in BENCHES:
            name = script.removesuffix(".py")
            if args.only and name not in args.only:
                continue
            cmd = [sys.executable, str(ROOT / "bench" / script), *(quick if args.quick else full)]
            print(f"\n{'=' * 100}\n$ {' '.join(['python', 'bench/' + script, *cmd[2:]])}\n{'=' * 100}", flush=True)
            # Each benchmark gets its own VAR_DIR (SQLite files, broker folder) so none shares state.
            env = dict(os.environ, VAR_DIR=str(Path(var_dir) / name))
            env.setdefault("LOG_LEVEL", "WARNING")  # the figures, not every session's log line
            Path(env["VAR_DIR"]).mkdir()
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()  # the benchmark's own finally blocks stop what it started
                proc.wait(timeout=30)
                raise
            timings.append((name, time.monotonic() - t0, code))
            if code != 0:
                failed.append(name)
    print(f"\n{'=' * 100}")
    for name, seconds, code in timings:
        print(f"{name:18s} {seconds:7.0f} s  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    print(f"{'total':18s} {time.monotonic() - started:7.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
