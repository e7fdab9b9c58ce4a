"""The broker's error family and the one place errors become HTTP responses.

Every error body is ``{"id": "<code>", "message": "<human text>"}`` (plus ``errors`` with
field details for validation failures). Nothing else in the code base builds error responses.

Messages never carry much of what a client sent: code that names a value in a message uses
:func:`quoted` (a short, escaped prefix), and every message and detail is bounded here again.
Unexpected errors are logged by type and stack only: exception messages (a failed statement's
parameters, a constraint's key) may carry request values.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from marketplace import adapters

log = logging.getLogger(__name__)


class MarketplaceError(Exception):
    """An error with its HTTP status, a stable machine code and a message safe to show."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class BadRequest(MarketplaceError):
    status, code = 400, "bad_request"


class Unauthorized(MarketplaceError):
    status, code = 401, "unauthorized"


class Forbidden(MarketplaceError):
    status, code = 403, "forbidden"


class NotFound(MarketplaceError):
    status, code = 404, "not_found"


class Conflict(MarketplaceError):
    status, code = 409, "conflict"


class Gone(MarketplaceError):
    status, code = 410, "gone"


class Unprocessable(MarketplaceError):
    status, code = 422, "unprocessable_entity"


class ServiceUnavailable(MarketplaceError):
    status, code = 503, "service_unavailable"


_ADAPTER_ERRORS: dict[type[adapters.AdapterError], type[MarketplaceError]] = {
    adapters.BackendUnavailable: ServiceUnavailable,
    adapters.PlanChangeRejected: Unprocessable,
    adapters.ProvisionRejected: Unprocessable,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
}


QUOTE_LIMIT = 40
MAX_MESSAGE = 500
MAX_DETAIL = 200


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``value`` for a message: its ``repr`` (escaped), cut to ``limit`` characters + '…'."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_details(details: Any, depth: int = 0) -> Any:
    """Validation details with every key and string bounded (keys may be a client's)."""
    if depth > 8:
        return "…"
    if isinstance(details, dict):
        return {
            (str(k) if len(str(k)) <= QUOTE_LIMIT else quoted(k)): _bounded_details(v, depth + 1)
            for k, v in list(details.items())[:50]
        }
    if isinstance(details, list | tuple):
        return [_bounded_details(v, depth + 1) for v in list(details)[:50]]
    if isinstance(details, str):
        return _bounded(details, MAX_DETAIL)
    return details


def from_adapter_error(error: adapters.AdapterError) -> MarketplaceError:
    """Translate an adapter's error into the broker's family (unknown kinds become 503)."""
    for kind, target in _ADAPTER_ERRORS.items():
        if isinstance(error, kind):
            return target(error.message)
    return ServiceUnavailable(error.message)


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Any = None
) -> Response:
    """Build the error response every part of the broker uses: JSON, or a page for browsers."""
    message = _bounded(message, MAX_MESSAGE)
    if _wants_html():
        page = render_template("errors/error.html", status=status, message=message)
        return Response(page, status=status, mimetype="text/html")
    body: dict[str, Any] = {"id": code, "message": message}
    if details:
        body["errors"] = _bounded_details(details)
    response = jsonify(body)
    response.status_code = status
    if headers:
        for name, value in headers:
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


_JSON_PREFIXES = (
    "/api",
    "/heroku",
    "/healthz",
    "/readyz",
    "/metrics",
    "/resources",
    "/connect",
    "/data",
)


def _wants_html() -> bool:
    """Pages for browsers on page routes; JSON for the APIs and for any other client."""
    if request.path.startswith(_JSON_PREFIXES):
        return False
    # A page path answers a page unless the client prefers JSON (``*/*`` takes the page).
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "text/html"


def http_exception_response(error: HTTPException) -> Response:
    """Render a werkzeug/flask-smorest HTTP error in the broker's JSON shape."""
    status = error.code or 500
    details = None
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs validation failure
        details = data["messages"]
        message = "The request body is invalid: " + _summarise(details)
    elif status == 413:
        message = "The request body is too large."
    else:
        message = error.description or error.name
    headers = error.get_headers() if status in (401, 405) else None
    return error_response(status, _HTTP_CODES.get(status, "error"), message, details, headers)


def _summarise(messages: Any) -> str:
    """Flatten webargs' nested messages into one readable sentence."""
    parts: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("json", "form", "query"):
                    walk(prefix, inner)
                else:
                    name = str(key) if len(str(key)) <= QUOTE_LIMIT else quoted(key)
                    walk(f"{prefix}.{name}" if prefix else name, inner)
        else:
            label = "body" if prefix in ("", "_schema") else prefix
            texts = value if isinstance(value, list) else [value]
            parts.append(f"{label}: {' '.join(str(t).rstrip('.') for t in texts)}")

    walk("", messages)
    return "; ".join(parts) + "." if parts else "invalid input."


def register_error_handlers(app: Flask) -> None:
    """Map every error to JSON once, for the whole app."""

    @app.errorhandler(MarketplaceError)
    def handle_marketplace_error(error: MarketplaceError) -> Response:
        return error_response(
            error.status, error.code, error.message, error.details, list(error.headers.items())
        )

    @app.errorhandler(adapters.AdapterError)
    def handle_adapter_error(error: adapters.AdapterError) -> Response:
        return handle_marketplace_error(from_adapter_error(error))

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response:
        return http_exception_response(error)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log_unexpected(error)
        return error_response(500, "internal_error", "Something went wrong on our side.")


def log_unexpected(error: BaseException) -> None:
    """Log an unexpected error without anything a client sent: the route (not the path),
    the exception's type and its cause chain's types, and the stack's frames (file, line,
    code), never an exception's message."""
    route = request.url_rule.rule if request.url_rule else "(no route)"
    chain: list[str] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 5:
        chain.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    stack = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "unhandled %s on %s %s (caused by: %s)\n%s",
        chain[0],
        request.method,
        route,
        " <- ".join(chain[1:]) or "nothing",
        stack,
    )
