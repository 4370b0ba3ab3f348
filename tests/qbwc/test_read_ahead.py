"""qbwc.read_ahead: the next batch is read on a worker thread, in order, one ahead at most.

The endpoint's own guarantees with it in place (a bad record at a page's end rolls back the
batches already stored, a repeated answer stores nothing twice, the watermark moves only
after a whole step) are tested through the real endpoint in test_batched_ingest.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from qbwc.read_ahead import read_ahead


class Source:
    """An iterator that notes how many items it has given and on which thread."""

    def __init__(self, n: int, *, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.given = 0
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.threads.add(threading.current_thread().name)
            if i == self.fail_at:
                raise ValueError(f"bad item {i}")
            self.given += 1
            yield i


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qbwc-read-ahead"]


def test_items_come_in_order_read_on_the_worker_thread() -> None:
    source = Source(7)
    assert list(read_ahead(iter(source))) == list(range(7))
    assert source.threads == {"qbwc-read-ahead"}
    assert _workers() == []


def test_empty_source() -> None:
    assert list(read_ahead(iter(Source(0)))) == []
    assert _workers() == []


def test_at_most_one_item_is_read_ahead() -> None:
    source = Source(10)
    seen: list[tuple[int, int]] = []
    with closing(read_ahead(iter(source))) as items:
        for item in items:
            time.sleep(0.02)  # the worker has time to run ahead, if it would
            seen.append((item, source.given))
    # While the caller holds item i, the source has given i+1 items, or i+2 (the next one read ahead).
    assert all(item + 1 <= given <= item + 2 for item, given in seen), seen


def test_what_the_source_raises_is_raised_after_the_items_before_it() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item in read_ahead(iter(Source(6, fail_at=3))):
            got.append(item)
    assert got == [0, 1, 2]
    assert _workers() == []


def test_a_caller_that_stops_early_ends_the_worker() -> None:
    source = Source(100)
    with pytest.raises(RuntimeError), closing(read_ahead(iter(source))) as items:
        for item in items:
            if item == 2:
                raise RuntimeError("storing failed")
    assert _workers() == []
    assert source.given <= 4  # the item being read when the caller stopped, at most


def test_without_a_thread_the_items_are_read_in_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    source = Source(5)
    assert list(read_ahead(iter(source))) == list(range(5))
    assert source.threads == {threading.current_thread().name}
