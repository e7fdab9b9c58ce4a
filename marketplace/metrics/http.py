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


def observe_request(route: str, method: str, status: int, seconds: float | None) -> None:
    """Count one answered request (and time it, when ``seconds`` is known).

    ``route`` is the URL rule that served it (:data:`UNMATCHED` when none did); ``method`` is
    the request's, reduced by :func:`method_label`. The app's hooks and the catalog's fast
    path (which answers before Flask) both count through here.
    """
    label = method_label(method)
    HTTP_REQUESTS.labels(route, label, str(status)).inc()
    if seconds is not None:
        HTTP_DURATION.labels(route, label).observe(seconds)


def init_http_metrics(app: Flask) -> None:
    """Count and time each request of ``app``."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        elapsed = time.perf_counter() - started if started is not None else None
        observe_request(route, request.method, response.status_code, elapsed)
        return response
