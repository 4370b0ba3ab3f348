"""connector.allocator: glibc's malloc thresholds pinned in the web server's processes, unless
the operator's environment tuned them already."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from connector.allocator import keep_one_arena, operator_arenas, operator_tuned, pin_malloc_thresholds

GLIBC = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc") if hasattr(os, "confstr") else False

# What an operator may set for glibc's malloc: a probe runs on glibc's defaults without them.
_MALLOC_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")


def _fresh_python(probe: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `probe` in a new interpreter, glibc's malloc untuned by the environment."""
    env = {k: v for k, v in os.environ.items() if k not in _MALLOC_ENVIRONMENT}
    return subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True, env=env)


@pytest.mark.parametrize(
    "environ",
    [
        {"MALLOC_MMAP_THRESHOLD_": "65536"},
        {"MALLOC_TRIM_THRESHOLD_": "1048576"},
        {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
        {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1048576"},
    ],
)
def test_an_operators_own_tuning_wins(environ: dict[str, str]) -> None:
    assert operator_tuned(environ)
    assert pin_malloc_thresholds(environ) is False


def test_other_tunables_are_not_the_thresholds() -> None:
    assert not operator_tuned({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "PATH": "/bin"})


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_large_freed_buffers_go_back_to_the_os_once_pinned() -> None:
    """In a fresh process: after a 4 MB buffer is freed, glibc's dynamic threshold puts the next
    megabyte buffers on the heap, where they stay resident once freed; pinned, each is mmapped
    and goes back to the OS when freed."""
    probe = textwrap.dedent(
        """
        import sys
        from connector.allocator import pin_malloc_thresholds
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        if sys.argv[1] == "pin":
            assert pin_malloc_thresholds({})
        first = bytearray(4 << 20); del first  # mmapped, unmapped, and (unpinned) the threshold rises
        base = rss()
        # Buffers below the risen threshold come from the heap (brk) unpinned; a small object
        # made after them stays, as the rest of a request's objects do, above them on the heap.
        held = [bytearray(b"x" * (1 << 20)) for _ in range(3)]
        later = [bytearray(b"y" * 1000) for _ in range(20)]
        del held
        print(rss() - base)
        """
    )
    kept = {mode: int(_fresh_python(probe, mode).stdout) for mode in ("dynamic", "pin")}
    assert kept["pin"] < 1024 < kept["dynamic"], kept  # KiB left resident after the buffers are freed


def test_the_web_server_module_pins_them() -> None:
    """connector.wsgi (what granian serves) calls both before Django starts."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "connector", "wsgi.py"), encoding="utf-8") as f:
        source = f.read()
    assert "pin_malloc_thresholds()" in source.split("get_wsgi_application()")[0]
    assert "keep_one_arena()" in source.split("get_wsgi_application()")[0]


@pytest.mark.parametrize("environ", [{"MALLOC_ARENA_MAX": "4"}, {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}])
def test_an_operators_arena_count_wins(environ: dict[str, str]) -> None:
    assert operator_arenas(environ)
    assert keep_one_arena(environ) is False


def test_the_thresholds_are_not_the_arena_count() -> None:
    assert not operator_arenas({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576", "MALLOC_TRIM_THRESHOLD_": "1"})


@pytest.mark.skipif(not GLIBC, reason="arenas are glibc's")
def test_a_second_thread_allocates_from_the_main_arena_once_kept() -> None:
    """In a fresh process: a thread's malloc'd buffers (2 KB bytearrays: above Python's small-object
    pools, below the mmap threshold) make glibc a second arena, unless one arena is kept.
    malloc_stats(3) lists the arenas on stderr."""
    probe = textwrap.dedent(
        """
        import ctypes, sys, threading
        from connector.allocator import keep_one_arena
        if sys.argv[1] == "keep":
            assert keep_one_arena({})
        held = []
        worker = threading.Thread(target=lambda: held.extend(bytearray(2000) for _ in range(200)))
        worker.start(); worker.join()
        sys.stderr.flush()
        ctypes.CDLL(None).malloc_stats()
        """
    )
    arenas = {mode: _fresh_python(probe, mode).stderr.count("Arena ") for mode in ("default", "keep")}
    assert arenas == {"default": 2, "keep": 1}, arenas


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trimming_gives_back_free_heap_pages_between_live_chunks() -> None:
    """Chunks freed between live ones stay resident (glibc trims only the heap's top) until
    trim_free_memory; then they go back to the OS."""
    probe = textwrap.dedent(
        """
        from connector.allocator import pin_malloc_thresholds, trim_free_memory
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        assert pin_malloc_thresholds({})
        base = rss()
        chunks = [bytearray(b"x" * 60_000) for _ in range(100)]  # under the mmap threshold: the heap
        keep = chunks[1::10]  # every tenth stays, as a request's long-lived objects do
        del chunks
        before = rss() - base
        trim_free_memory()
        print(before, rss() - base)
        """
    )
    out = _fresh_python(probe)
    before, after = (int(n) for n in out.stdout.split())
    assert before > 4000 and after < before - 3000, (before, after)  # KiB resident above the start
