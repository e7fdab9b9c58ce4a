"""The flask-smorest Api and Blueprint: errors rendered, parsed and documented the broker's way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from flask import Response
from werkzeug.exceptions import HTTPException

from marketplace.errors import http_exception_response
from marketplace.schemas.errors import ErrorSchema
from marketplace.untrusted import CheckedParser

#: What each error status means on any operation (an operation may say it more precisely).
ERROR_DESCRIPTIONS = {
    400: "Malformed input: not JSON, nested too deeply, a huge number, NUL or a lone "
    "surrogate in a string, path or query",
    401: "Missing or wrong credentials",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "The body is larger than 1 MiB (with Content-Length or chunked)",
    415: "The body is not JSON",
    422: "The body is well-formed but invalid",
    500: "An unexpected error on the broker's side",
    503: "A backend is unavailable; nothing was changed",
}


class MarketplaceApi(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api whose HTTP errors use ``{"id", "message"}`` bodies, documented as
    such: every default response (``422 UNPROCESSABLE_ENTITY``, ``default``) uses
    :class:`ErrorSchema`.

    The override also keeps the exception's own headers (``Allow`` on 405,
    ``WWW-Authenticate`` on 401), which flask-smorest's default handler drops.
    """

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render ``error`` as the broker's JSON error body."""
        return http_exception_response(error)


class ApiBlueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """A flask-smorest Blueprint whose ``@arguments`` decode JSON through the broker's checks
    (:class:`~marketplace.untrusted.CheckedParser`). Every API blueprint is one (a test
    checks)."""

    ARGUMENTS_PARSER = CheckedParser()

    def errors(
        self, *statuses: int, **descriptions: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Document error ``statuses`` with the broker's error body; ``descriptions`` override
        the generic text per status (``e409="…"``)."""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            for status in statuses:
                text = descriptions.get(f"e{status}", ERROR_DESCRIPTIONS[status])
                view = self.alt_response(status, schema=ErrorSchema, description=text)(view)
            return view

        return decorate
