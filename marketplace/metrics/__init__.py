"""Prometheus metrics: instruments the code updates, gauges read at scrape time, and the
``GET /metrics`` exposition (multiprocess under gunicorn and the worker).

Importing this package loads the instruments only; :func:`init_metrics` wires an app.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask

from marketplace.metrics.operations import (
    async_drive,
    async_step,
    partner_operation,
    reconciler_report,
    reconciler_run,
    sso_login,
)


def init_metrics(app: Flask, adapters: Iterable[Any]) -> None:
    """Count ``app``'s requests, time its adapters' backend calls, and serve the scrape."""
    from marketplace.metrics.backend import instrument_adapters
    from marketplace.metrics.exposition import init_exposition
    from marketplace.metrics.http import init_http_metrics

    init_http_metrics(app)
    instrument_adapters(adapters)
    init_exposition(app)


__all__ = [
    "async_drive",
    "async_step",
    "init_metrics",
    "partner_operation",
    "reconciler_report",
    "reconciler_run",
    "sso_login",
]
