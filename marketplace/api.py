"""The flask-smorest Api, with errors rendered in the broker's JSON shape."""

from __future__ import annotations

from flask import Response
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from marketplace.errors import http_exception_response


class MarketplaceApi(Api):  # type: ignore[misc]
    """flask-smorest's Api whose HTTP errors use ``{"id", "message"}`` bodies.

    The override also keeps the exception's own headers (``Allow`` on 405,
    ``WWW-Authenticate`` on 401), which flask-smorest's default handler drops.
    """

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render ``error`` as the broker's JSON error body."""
        return http_exception_response(error)
