"""Reading a page's next batch of records on a worker thread while this one is stored (issue 11).

A first sync's page spends its time in two places that can overlap: parsing qbXML into
records (Python and libxml2, holding the GIL) and PostgreSQL storing the batch before it
(psycopg waits on the socket with the GIL released). One after the other they were
0.34 s and 0.57 s of a 4 000-bill sync in pages of 500 (bench/bench_qbwc.py section 4,
timed per part); read ahead, the parse of batch N+1 runs while batch N's COPYs run.

Only the parse moves to the worker: it is pure (qbwc.qbxml.ResponseReader touches no
database, no Django state, no log context), and the worker is the only thread using the
reader until it has ended. The database work stays on the request's thread, in its
transaction. At most one batch is read ahead: the worker starts the next batch when the
caller takes one, so two batches are alive at a time (the one being stored and the one
being read), never the page.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_NEXT, _STOP = "next", "stop"


class _Ended:
    """What the worker hands over in place of an item: the end of the items, or what it raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Worker(Generic[T]):
    """Reads one item of `items` each time it is asked to, on its own thread."""

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items
        self.asks: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[T | _Ended] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="qbwc-read-ahead", daemon=True)

    def _run(self) -> None:
        while self.asks.get() == _NEXT:
            try:
                item = next(self._items)
            except StopIteration:
                self.answers.put(_Ended(None))
                return
            except BaseException as exc:  # handed to the caller's thread, raised there
                self.answers.put(_Ended(exc))
                return
            self.answers.put(item)
            del item  # (held here, it would stay alive while the next one is read)


def read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """`items` in order, each read on a worker thread while the caller works on the one before.

    What `items` raises is raised here, in the caller's thread, after the items before it were
    yielded (a bad record at the end of a page rolls back the batches already stored, as
    when read in line). When the caller stops early (an exception while storing, or close()),
    the worker finishes the item it is reading, if any, and ends before this returns. Where no
    thread can be started (a process at its limit), the items are read in line.
    """
    worker = _Worker(items)
    worker.asks.put(_NEXT)
    try:
        worker.thread.start()
    except RuntimeError:  # no thread to be had: read in line, as before read-ahead
        yield from items
        return
    try:
        while True:
            answer = worker.answers.get()
            if isinstance(answer, _Ended):
                if answer.error is not None:
                    raise answer.error
                return
            worker.asks.put(_NEXT)  # read the next one while the caller stores this one
            yield answer
            del answer  # not held while the next one is read: two alive at a time, not three
    finally:
        worker.asks.put(_STOP)
        worker.thread.join()
