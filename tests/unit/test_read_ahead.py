"""Connect's read-ahead of Bulk API pages (addons/connect/prefetch.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from addons.connect.prefetch import read_ahead


def test_items_arrive_in_order_and_the_next_is_fetched_while_one_is_used():
    fetched: list[int] = []
    second_fetched = threading.Event()

    def pages() -> Iterator[int]:
        for n in range(5):
            fetched.append(n)
            if n == 1:
                second_fetched.set()
            yield n

    seen = []
    for item in read_ahead(pages()):
        if item == 0:  # while the first is in use, the second is already on its way
            assert second_fetched.wait(10)
        seen.append(item)
    assert seen == [0, 1, 2, 3, 4] and fetched == seen


def test_an_error_of_the_source_is_raised_after_the_items_before_it():
    def pages() -> Iterator[str]:
        yield "a"
        raise LookupError("the job failed")

    reader = read_ahead(pages())
    assert next(reader) == "a"
    with pytest.raises(LookupError, match="the job failed"):
        next(reader)


def test_stopping_early_stops_the_reader_thread():
    finished = threading.Event()

    def pages() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            finished.set()

    reader = read_ahead(pages())
    assert next(reader) == 0
    reader.close()
    assert finished.wait(10)
