"""The backend part of an operation: time spent inside adapter calls.

:func:`instrument_adapters` wraps, on each registered adapter instance, the methods that do
backend work (``provision``, ``change_plan``, ``deprovision``, ``rotate_credentials``,
``usage``) with a timer. The instance stays the same object, so the core's
``isinstance(adapter, Capability)`` checks see exactly what the adapter implements; only
methods the adapter has are wrapped. Each call counts in ``marketplace_adapter_calls_total``
and adds its duration to the innermost :func:`backend_timer` open in this thread or task
(the Partner API opens one per operation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any

from marketplace.metrics.instruments import ADAPTER_CALLS

TIMED_METHODS = ("provision", "change_plan", "deprovision", "rotate_credentials", "usage")
_MARK = "_marketplace_timed"


class BackendClock:
    """Seconds spent in adapter calls while it is open."""

    def __init__(self) -> None:
        self.seconds = 0.0


_current: ContextVar[BackendClock | None] = ContextVar("marketplace_backend_clock", default=None)


@contextmanager
def backend_timer() -> Iterator[BackendClock]:
    """Collect the time adapter calls take inside the ``with`` block."""
    clock = BackendClock()
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def instrument_adapters(adapters: Iterable[Any]) -> None:
    """Time the backend methods of every adapter (once per instance)."""
    for adapter in adapters:
        if getattr(adapter, _MARK, False):
            continue
        slug = adapter.spec.slug
        for name in TIMED_METHODS:
            method = getattr(adapter, name, None)
            if callable(method):
                setattr(adapter, name, _timed(slug, name, method))
        setattr(adapter, _MARK, True)


def _timed(slug: str, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return method(*args, **kwargs)
        except Exception as error:
            outcome = type(error).__name__
            raise
        finally:
            clock = _current.get()
            if clock is not None:
                clock.seconds += time.perf_counter() - started
            ADAPTER_CALLS.labels(slug, name, outcome).inc()

    return call
