"""What ``gunicorn.conf.py`` plugs into gunicorn: JSON logs and the metrics' process hooks.

* :class:`JsonLogger` (``logger_class``): gunicorn's error log, and its access log when one is
  enabled, as JSON lines like the app's. An access line carries the request's id (the
  ``X-Request-Id`` the app answered with) and never the query string or headers.
* :func:`on_starting` (master, before workers fork) prepares ``PROMETHEUS_MULTIPROC_DIR``;
  :func:`child_exit` removes a dead worker's live gauges.

This module is imported by gunicorn's master: it must not load the app or the instruments.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from marketplace.config import metrics_multiproc_dir
from marketplace.logging import json_formatter

log = logging.getLogger("gunicorn.error")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "request_id", "remote_addr")


class JsonLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with JSON formatting and a structured access line."""

    def setup(self, cfg: Any) -> None:
        """Let gunicorn build its handlers, then make them write JSON."""
        super().setup(cfg)
        formatter = json_formatter(extra_keys=ACCESS_FIELDS)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One JSON line per request: method, path, status, duration and request id."""
        if not self.access_log_enabled:
            return
        headers = {str(k).lower(): str(v) for k, v in (getattr(resp, "headers", None) or [])}
        status = getattr(resp, "status_code", None) or str(getattr(resp, "status", "")).split(
            " ", 1
        )[0]
        self.access_log.info(
            "access",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": int(status) if str(status).isdigit() else status,
                "duration_ms": _milliseconds(request_time),
                "request_id": headers.get("x-request-id"),
                "remote_addr": environ.get("REMOTE_ADDR"),
            },
        )


def _milliseconds(elapsed: Any) -> float:
    """A request's duration: a ``timedelta`` (sync workers), or the asyncio worker's object
    with ``seconds`` and ``microseconds``."""
    seconds = float(elapsed.seconds) + float(elapsed.microseconds) / 1e6
    return round(seconds * 1000, 1)


def on_starting(server: Any) -> None:
    """Master start: empty the metrics directory of an earlier run's files."""
    directory = metrics_multiproc_dir()
    if not directory:
        if int(getattr(server.cfg, "workers", 1)) > 1:
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR is not set: each worker serves only its own metrics"
            )
        return
    from marketplace.metrics.exposition import prepare_multiprocess_dir

    removed = prepare_multiprocess_dir(directory)
    log.info("metrics directory %s ready (%d stale files removed)", directory, removed)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: drop its live gauges from the sums."""
    directory = metrics_multiproc_dir()
    if directory:
        from marketplace.metrics.exposition import mark_process_dead

        mark_process_dead(worker.pid, directory)


__all__ = ["JsonLogger", "child_exit", "on_starting"]
