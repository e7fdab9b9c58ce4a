"""OData 4.0 JSON answers and errors (OData JSON Format 4.0; Protocol, section 9.4).

Every answer carries ``OData-Version: 4.0``; bodies are
``application/json;odata.metadata=minimal`` with ``@odata.context``; errors are
``{"error": {"code", "message"}}`` with a 4xx (or 5xx) status and never a stack trace.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from flask import Response
from werkzeug.exceptions import HTTPException

from marketplace.adapters import AdapterError, ProvisionRejected
from marketplace.errors import MarketplaceError, from_adapter_error, log_unexpected
from marketplace.odata.values import special_number, to_json

JSON_TYPE = "application/json;odata.metadata=minimal"
XML_TYPE = "application/xml"
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}


def odata_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with OData's media type and version header.

    NaN and infinities (Edm.Double, and numeric columns holding them) are the strings
    ``"NaN"``, ``"INF"`` and ``"-INF"`` (OData JSON Format 4.0, section 7.1), never the bare
    tokens strict JSON parsers refuse; pages without them take the fast path.
    """
    try:
        text = _dumps(body)
    except ValueError:  # a non-finite number somewhere: spell those as OData's strings
        text = _dumps(_finite(body))
    response = Response(text, status=status, content_type=JSON_TYPE)
    return _versioned(response, headers)


def odata_xml(document: bytes) -> Response:
    """``$metadata``."""
    return _versioned(Response(document, content_type=XML_TYPE))


def no_content(headers: dict[str, str] | None = None) -> Response:
    """204, for PATCH and DELETE: no body, so no ``Content-Type`` either."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return _versioned(response, headers)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """OData's error body."""
    return odata_json({"error": {"code": code, "message": message}}, status, headers)


def error_from(exc: Exception) -> Response:
    """Whatever went wrong, as OData's error body (unexpected ones logged, not shown)."""
    if isinstance(exc, ProvisionRejected):  # the database refused a value or constraint
        return error(400, "bad_request", exc.message)
    if isinstance(exc, AdapterError):
        exc = from_adapter_error(exc)
    if isinstance(exc, MarketplaceError):
        return error(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        headers = dict(exc.get_headers()) if status == 405 else {}
        headers.pop("Content-Type", None)
        message = "The request body is too large." if status == 413 else exc.description or exc.name
        return error(status, _CODES.get(status, "error"), message, headers)
    log_unexpected(exc)
    return error(500, "internal_error", "Something went wrong on our side.")


def _dumps(body: Any) -> str:
    return json.dumps(
        body, default=to_json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float or Decimal as OData's special-value string."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return special_number(value)
    if isinstance(value, Decimal) and not value.is_finite():
        return special_number(value)
    if hasattr(value, "items"):  # a row mapping that is not a dict
        return {k: _finite(v) for k, v in value.items()}
    return value


def _versioned(response: Response, headers: dict[str, str] | None = None) -> Response:
    response.headers["OData-Version"] = "4.0"
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
