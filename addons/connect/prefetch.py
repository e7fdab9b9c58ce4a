"""Reading ahead: the next Bulk API result page downloads while the current one is written.

A Bulk API 2.0 load alternates two waits: Salesforce producing and sending a page of CSV, and
PostgreSQL taking it with ``COPY``. :func:`read_ahead` runs the page iterator in a thread, one
page ahead, so the two overlap; the load then takes about as long as the slower side instead
of the sum of both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


class _Done:
    """The producer's last item: the end, or the exception it raised."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield what ``items`` yields, fetching up to ``depth`` items ahead in a thread.

    An exception of ``items`` is raised here, in order. When the caller stops early (an
    exception of its own, or ``close()``), the thread stops after the item it is fetching.
    """
    ready: queue.Queue[T | _Done] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def produce() -> None:
        outcome = _Done()
        try:
            for item in items:
                while not stopped.is_set():
                    try:
                        ready.put(item, timeout=_POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                if stopped.is_set():
                    _close(items)  # the source's own clean-up runs now, in this thread
                    return
        except BaseException as error:  # handed to the consumer, raised there
            outcome = _Done(error)
        while not stopped.is_set():
            try:
                ready.put(outcome, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stopped.set()


def _close(items: Iterator[object]) -> None:
    close = getattr(items, "close", None)
    if callable(close):
        close()
