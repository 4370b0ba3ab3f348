"""glibc's malloc in the web server's processes: its thresholds pinned, and the heap's free pages
given back after a large request (issue 11).

A receiveResponseXML call holds its page's answer (0.7 MB for 500 bills, 2.6 MB for 2 000)
in one growing buffer. glibc serves an allocation that large with mmap and unmaps it on
free, but then raises its mmap threshold to that size ("dynamic mmap threshold",
mallopt(3), M_MMAP_THRESHOLD): the next page's buffer comes from the heap instead, whose
top is kept rather than trimmed (the trim threshold rises with it), so each process's
resident memory ratchets up by about a page after its first large answer and stays there.
Setting the thresholds explicitly turns that adjustment off (mallopt(3): "dynamic
adjustment is disabled if any of M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, or
M_MMAP_MAX is set"); these are glibc's own initial values, kept for the process's life.

Measured with bench/bench_qbwc.py section 4 (4 000 bills, the server's peak RSS growth):
see bench/README.md. Small allocations (everything a no-change session makes) are not
affected.

What a page leaves behind under the thresholds (the SOAP reader's 16-64 KB text pieces, a
batch's objects) is freed into the heap, but glibc returns only the heap's top; free chunks
between live ones stay resident, so each process's RSS crept up for the first few pages of a
sync (bench: +1.36 MB after the first 500-bill page, +1.85 MB after the fourth, each later
page's peak on top). `trim_free_memory` (malloc_trim(0): "all free pages ... are released",
glibc >= 2.8) after each large request puts a process back near where it started; it costs
~0.2-2 ms, against a 500-bill page's ~200 ms, and is never called for a small request.

A page's records are parsed on a second thread while the batch before them is stored
(qbwc/read_ahead.py). glibc gives a new thread its own arena (a heap of its own, up to 8 per
core, mallopt(3) M_ARENA_MAX), and what libxml2 allocated there while reading a batch is a
second heap's free space beside the first's: the server's peak memory for a 500-bill page
rose from 2.7x to 3.6-3.9x the answer with read-ahead, and fell back to 2.8-3.0x with one
arena (MALLOC_ARENA_MAX=1, bench/bench_qbwc.py section 4). So the web server's processes keep
one arena: their threads (one or a few running Django, the read-ahead thread, the server's
own) then share its lock, which costs nothing measurable at these allocation rates (Python's
small objects come from its own pools, not malloc).

An operator's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_ARENA_MAX environment
(read by glibc at start-up) wins: then that setting is left alone here. Elsewhere than glibc
(musl, macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping
from typing import Any

# <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 128 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MIN / initial value
TRIM_THRESHOLD = 128 * 1024  # glibc's DEFAULT_TRIM_THRESHOLD
ARENA_MAX = 1  # the main arena only (see the module)


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a GNU system
        return False


def operator_tuned(environ: Mapping[str, str]) -> bool:
    """Whether the environment already sets either threshold (glibc reads it at start-up)."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    return (
        "MALLOC_MMAP_THRESHOLD_" in environ
        or "MALLOC_TRIM_THRESHOLD_" in environ
        or "glibc.malloc.mmap_threshold" in tunables
        or "glibc.malloc.trim_threshold" in tunables
    )


def _libc_function(name: str) -> Any:
    if not _glibc():
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


_malloc_trim = _libc_function("malloc_trim")
if _malloc_trim is not None:
    _malloc_trim.argtypes = [ctypes.c_size_t]
    _malloc_trim.restype = ctypes.c_int
_mallopt = _libc_function("mallopt")  # mallopt returns 1 on success
if _mallopt is not None:
    _mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _mallopt.restype = ctypes.c_int


def trim_free_memory() -> bool:
    """Give the heap's free pages back to the OS (see the module). True when glibc released some."""
    return bool(_malloc_trim(0)) if _malloc_trim is not None else False


def operator_arenas(environ: Mapping[str, str]) -> bool:
    """Whether the environment already sets glibc's arena count."""
    return "MALLOC_ARENA_MAX" in environ or "glibc.malloc.arena_max" in environ.get("GLIBC_TUNABLES", "")


def pin_malloc_thresholds(environ: Mapping[str, str] = os.environ) -> bool:
    """Pin glibc's mmap and trim thresholds (see the module). True when they were set."""
    if operator_tuned(environ) or _mallopt is None:
        return False
    return bool(_mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(_mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def keep_one_arena(environ: Mapping[str, str] = os.environ) -> bool:
    """Keep the process's threads on glibc's main arena (see the module). True when it was set;
    call it before the read-ahead thread first runs (arenas already made stay)."""
    if operator_arenas(environ) or _mallopt is None:
        return False
    return bool(_mallopt(M_ARENA_MAX, ARENA_MAX))
