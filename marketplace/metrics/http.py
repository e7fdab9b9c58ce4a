"""Every HTTP request counted by route (the URL rule, never the raw path, so resource ids do
not become label values) and timed."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from marketplace.metrics.instruments import HTTP_DURATION, HTTP_REQUESTS

UNMATCHED = "unmatched"  # no URL rule matched (404, or 405 before routing)
#: Methods counted under their own name; any other (a client may send ``HACK1``, ``HACK2``…)
#: is ``other``, so a client cannot grow the label sets (and the process's memory) at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """The ``method`` label of a request: its method when standard, else ``other``."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def init_http_metrics(app: Flask) -> None:
    """Count and time each request of ``app``."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        method = method_label(request.method)
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        if started is not None:
            HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)
        return response
