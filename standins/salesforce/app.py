"""The stand-in's WSGI app: blueprints, and the one place errors become responses.

Every error is rendered in Salesforce's shape, never as an HTML page or a traceback:
data and admin paths answer ``[{"message": ..., "errorCode": ...}]`` (404 ``NOT_FOUND``,
405 ``METHOD_NOT_ALLOWED``, 500 ``UNKNOWN_EXCEPTION``); the OAuth token endpoint answers
``{"error": ..., "error_description": ...}``.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from standins.salesforce import (
    admin_views,
    bulk_views,
    composite_views,
    oauth_views,
    rest_views,
    web,
)
from standins.salesforce.auth import Auth
from standins.salesforce.errors import ApiError, OAuthError
from standins.salesforce.store import Org

log = logging.getLogger(__name__)


def _api_error(error: ApiError) -> Response:
    return web.add_limit_header(web.json_response(error.body(), error.status))


def _oauth_error(error: OAuthError) -> Response:
    return web.json_response(error.body(), error.status)


def _http_error(error: HTTPException) -> Response:
    if request.path.startswith("/services/oauth2/"):
        return web.json_response({"error": "invalid_request",
                                  "error_description": error.description}, error.code or 400)
    if isinstance(error, MethodNotAllowed):
        allowed = ",".join(sorted(error.valid_methods or []))
        return _api_error(ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method "
                                   f"'{request.method}' not allowed. Allowed are {allowed}"))
    if error.code == 404:
        return _api_error(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
    return _api_error(ApiError(error.code or 400, "INVALID_REQUEST", str(error.description)))


def _unexpected(error: Exception) -> Response:
    error_id = f"{secrets.randbelow(10**9)}-{secrets.randbelow(10**5)}"
    log.exception("stand-in failure %s on %s %s", error_id, request.method, request.path)
    return _api_error(ApiError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. "
                               f"Please include this ErrorId if you contact support: {error_id}"))


def create_app(org: Org, auth: Auth | None = None) -> Flask:
    """A Flask app serving ``org``: OAuth, REST, collections, Bulk 2.0 query, admin hooks."""
    app = Flask(__name__)
    app.url_map.strict_slashes = False
    app.extensions[web.EXTENSION_KEY] = web.StandinState(org, auth or Auth(org))
    for blueprint in (oauth_views.bp, rest_views.bp, composite_views.bp, bulk_views.bp,
                      admin_views.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(OAuthError, _oauth_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
