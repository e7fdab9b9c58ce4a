"""Structured logs: JSON lines, one per request with its request id, never a secret.

Request bodies, query strings and headers are never logged: they carry passwords, SSO tokens
and OAuth grants.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Collection
from typing import Any

import structlog
from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
#: A path is logged up to this length: a hostile one may be kilobytes long.
MAX_LOGGED_PATH = 256
access_log = structlog.get_logger("marketplace.access")


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter(extra_keys: Collection[str] = ()) -> logging.Formatter:
    """The formatter of every log line: JSON with level, time (UTC), logger name and the
    context bound for the request (``request_id``). gunicorn's logs use it too.

    :param extra_keys: ``extra=`` fields of stdlib records to render (none by default:
        only fields chosen here can reach the log).
    """
    chain: list[Any] = [*_SHARED, structlog.stdlib.add_logger_name]
    if extra_keys:
        chain.append(structlog.stdlib.ExtraAdder(allow=tuple(extra_keys)))
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=chain,
    )


def configure_logging(level: str) -> None:
    """Send stdlib and structlog records to stderr as JSON lines."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def init_request_logging(app: Flask) -> None:
    """Give every request an id (``X-Request-Id``) and log one line when it ends."""

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-Id"] = request_id
            access_log.info(
                "request",
                method=request.method,
                path=request.path[:MAX_LOGGED_PATH],
                status=response.status_code,
                duration_ms=round((time.perf_counter() - g.request_started) * 1000, 1),
                remote_addr=request.remote_addr,
            )
        return response

    @app.teardown_request
    def _forget(_error: BaseException | None) -> None:
        structlog.contextvars.clear_contextvars()
