"""The Heroku Connect API v3 shape, under ``/connect/api/v3`` (reference/connect.md, 1.8).

| call | answers |
| --- | --- |
| ``GET /connections/<uuid>[?deep=true]`` | the connection (with mappings) |
| ``PATCH /connections/<uuid>`` ``{"db_key", "schema_name"}`` | links the database |
| ``POST /connections/<uuid>/authorize_url`` ``{"environment", "domain"}`` | ``{"redirect"}`` |
| ``GET /connections/<uuid>/actions/export`` | the v1 mapping document |
| ``POST /connections/<uuid>/actions/import`` | imports a v1 document (unknown keys ignored) |
| ``POST /connections/<uuid>/actions/pause|resume|restart`` | 202 ``{message}`` |
| ``GET /connections/<uuid>/errors`` | ``{count, results}`` of the last 24 h |
| ``POST /connections/<uuid>/mappings`` ``{"object_name", "config"}`` | 201, the mapping |
| ``GET|DELETE /mappings/<id>``, ``POST /mappings/<id>/actions/reload`` | the mapping, 204, 202 |
| ``GET /apps/<app>`` | ``{"db_keys": [{"name", "uuid", "addon": {"plan"}}]}`` |

Every call is authorized like the resource's other JSON endpoints: its SSO session (writes with
``X-CSRFToken``) or ``Authorization: Bearer <the resource's API token>``; another resource's
token gets 403. Errors are ``{"id", "message"}``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, jsonify, request, session

from marketplace.context import broker, lifecycle
from marketplace.dashboard.access import require_access_to
from marketplace.errors import BadRequest, NotFound
from marketplace.services import connections
from marketplace.services.api_tokens import resource_for, token_digest
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("connect_api", __name__, url_prefix="/connect/api/v3")

PAUSE_ACTIONS = ("pause", "resume", "restart")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object.")
    return body


def _split(mapping_id: str) -> tuple[str, str]:
    resource_id, _, object_name = mapping_id.partition(".")
    if len(resource_id) != 36 or not object_name:
        raise NotFound("No mapping with this id.")
    return resource_id, object_name


@bp.get("/connections/<uuid>")
def show(uuid: str) -> Response:
    """The connection; ``?deep=true`` adds its mappings."""
    require_access_to(uuid)
    deep = request.args.get("deep", "").lower() in ("1", "true", "yes")
    return jsonify(connections.info(uuid, lifecycle(), deep=deep))


@bp.patch("/connections/<uuid>")
def update(uuid: str) -> Response:
    """Set the schema and link the database: ``{"db_key": ..., "schema_name": ...}``."""
    require_access_to(uuid)
    body = _body()
    db_key, schema_name = body.get("db_key"), body.get("schema_name")
    if not isinstance(db_key, str | None) or not isinstance(schema_name, str | None):
        raise BadRequest("db_key and schema_name must be strings.")
    connections.set_database(uuid, db_key, schema_name, lifecycle(), broker().queue)
    return jsonify(connections.info(uuid, lifecycle(), deep=True))


@bp.post("/connections/<uuid>/authorize_url")
def authorize_url(uuid: str) -> Response:
    """``{"redirect": <Salesforce authorize URL>}`` with a state bound to the caller."""
    how = require_access_to(uuid)
    body = _body()
    outcome = connections.act(
        uuid,
        "authorize",
        {
            "environment": str(body.get("environment") or "production"),
            "domain": str(body.get("domain") or ""),
        },
        lifecycle(),
        broker().queue,
    )
    login_url = outcome.redirect.split("login_url=", 1)[1] if outcome.redirect else ""
    url = connections.start_login(
        uuid,
        _binding(how, uuid),
        unquote(login_url),
        current_app.config["SECRET_KEY"],
        callback_url(),
        lifecycle(),
        broker().queue,
    )
    return jsonify({"redirect": url})


@bp.get("/connections/<uuid>/actions/export")
def export(uuid: str) -> Response:
    """Heroku Connect's v1 mapping document."""
    require_access_to(uuid)
    return jsonify(connections.export(uuid, lifecycle()))


@bp.post("/connections/<uuid>/actions/import")
def import_(uuid: str) -> Response:
    """Import a v1 mapping document."""
    require_access_to(uuid)
    body = _body()
    outcome = connections.act(
        uuid, "import", {"document": json.dumps(body)}, lifecycle(), broker().queue
    )
    return _accepted(outcome.message)


@bp.post("/connections/<uuid>/actions/<action>")
def connection_action(uuid: str, action: str) -> Response:
    """Pause, resume or restart."""
    require_access_to(uuid)
    if action not in PAUSE_ACTIONS:
        raise NotFound(f"Unknown action {action[:40]!r}.")
    outcome = connections.act(uuid, action, {}, lifecycle(), broker().queue)
    return _accepted(outcome.message)


@bp.get("/connections/<uuid>/errors")
def errors(uuid: str) -> Response:
    """Write and sync errors of the last 24 hours."""
    require_access_to(uuid)
    return jsonify(connections.errors(uuid, lifecycle()))


@bp.post("/connections/<uuid>/mappings")
def create_mapping(uuid: str) -> Response:
    """``{"object_name": "Contact", "config": {...}}`` -> 201 with the mapping."""
    require_access_to(uuid)
    body = _body()
    object_name, config = body.get("object_name"), body.get("config")
    if config is None:
        config = {}
    if not isinstance(object_name, str) or not isinstance(config, dict):
        raise BadRequest('Send {"object_name": "<Object>", "config": {...}}.')
    document = {"version": 1, "mappings": [{"object_name": object_name, "config": config}]}
    connections.act(uuid, "import", {"document": json.dumps(document)}, lifecycle(), broker().queue)
    response = jsonify(connections.mapping(uuid, object_name, lifecycle()))
    response.status_code = 201
    return response


@bp.get("/mappings/<mapping_id>")
def show_mapping(mapping_id: str) -> Response:
    """One mapping with its state, counts and times."""
    uuid, object_name = _split(mapping_id)
    require_access_to(uuid)
    return jsonify(connections.mapping(uuid, object_name, lifecycle()))


@bp.get("/mappings/<mapping_id>/errors")
def mapping_errors(mapping_id: str) -> Response:
    """The mapping's errors of the last 24 hours."""
    uuid, object_name = _split(mapping_id)
    require_access_to(uuid)
    connections.require_mapping(uuid, object_name, lifecycle())
    return jsonify(connections.errors(uuid, lifecycle(), object_name))


@bp.delete("/mappings/<mapping_id>")
def delete_mapping(mapping_id: str) -> Response:
    """Delete the mapping (its table is dropped): 204."""
    uuid, object_name = _split(mapping_id)
    require_access_to(uuid)
    connections.require_mapping(uuid, object_name, lifecycle())
    connections.act(
        uuid, "delete_mapping", {"object_name": object_name}, lifecycle(), broker().queue
    )
    return Response(status=204)


@bp.post("/mappings/<mapping_id>/actions/reload")
def reload_mapping(mapping_id: str) -> Response:
    """Clear and load the mapping's table again: 202."""
    uuid, object_name = _split(mapping_id)
    require_access_to(uuid)
    connections.require_mapping(uuid, object_name, lifecycle())
    outcome = connections.act(
        uuid, "reload_mapping", {"object_name": object_name}, lifecycle(), broker().queue
    )
    return _accepted(outcome.message)


@bp.get("/apps/<app_name>")
def app_db_keys(app_name: str) -> Response:
    """The databases of the caller's app a connection can use (``connect:db:set`` lists them)."""
    uuid = _caller()
    require_access_to(uuid)
    return jsonify(connections.db_keys(uuid, app_name, lifecycle()))


def _caller() -> str:
    """The resource the request's API token or session opens ("" when neither)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return resource_for(header[7:].strip()) or ""
    value = session.get(SESSION_RESOURCE)
    return value if isinstance(value, str) else ""


def _accepted(message: str) -> Response:
    response = jsonify({"message": message})
    response.status_code = 202
    return response


def callback_url() -> str:
    """Where Salesforce sends the browser back (registered on the connected app)."""
    return f"{current_app.config['MARKETPLACE_URL']}/connect/oauth/callback"


def _binding(how: str, uuid: str) -> str:
    """What the state is bound to: this browser session, or the resource's API token."""
    if how == "session":
        return session_binding()
    header = request.headers.get("Authorization", "")
    return f"token:{token_digest(header[7:].strip())}"


def session_binding() -> str:
    """The browser session's binding value (created once per session)."""
    value = session.get("oauth_binding")
    if not isinstance(value, str):
        value = secrets.token_urlsafe(24)
        session["oauth_binding"] = value
    return f"session:{value}"
