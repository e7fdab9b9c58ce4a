"""The broker's error family and the one place errors become HTTP responses.

Every error body is ``{"id": "<code>", "message": "<human text>"}`` (plus ``errors`` with
field details for validation failures). Nothing else in the code base builds error responses.
"""

from __future__ import annotations

import logging
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
    if _wants_html():
        page = render_template("errors/error.html", status=status, message=message)
        return Response(page, status=status, mimetype="text/html")
    body: dict[str, Any] = {"id": code, "message": message}
    if details:
        body["errors"] = details
    response = jsonify(body)
    response.status_code = status
    if headers:
        for name, value in headers:
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


_JSON_PREFIXES = ("/api", "/heroku", "/healthz", "/readyz", "/resources", "/connect", "/data")


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
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
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
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")
