"""Every HTTP request counted by route (the URL rule, never the raw path, so resource ids do
not become label values) and timed."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from marketplace.metrics.instruments import HTTP_DURATION, HTTP_REQUESTS

UNMATCHED = "unmatched"  # no URL rule matched (404, or 405 before routing)


def init_http_metrics(app: Flask) -> None:
    """Count and time each request of ``app``."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        if started is not None:
            HTTP_DURATION.labels(route, request.method).observe(time.perf_counter() - started)
        return response
