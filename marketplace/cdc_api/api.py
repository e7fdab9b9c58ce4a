"""The data connectors JSON API, shaped like Heroku's (``/data/cdc/v0``).

Authorized by the Postgres resource's SSO session or API token (``Authorization: Bearer``,
see :mod:`marketplace.dashboard.access`); a connector is opened by its Postgres resource's.

| call | does |
| --- | --- |
| ``POST /data/cdc/v0/databases/<uuid>/connectors`` | create (201): ``{"kafka", "tables", |
| | "excluded_columns"?, "name"?, "settings"?}`` |
| ``POST /data/cdc/v0/kafka_tenants/<kafka uuid>`` | the same, Heroku's way: |
| | ``{"postgres_addon_uuid", "tables", "excluded_columns"?, "name"?, "platform_version"?}`` |
| ``GET /data/cdc/v0/databases/<uuid>/connectors`` | list |
| ``GET /data/cdc/v0/addons/<uuid>`` | list a Postgres resource's, or a Kafka resource's |
| ``GET /data/cdc/v0/apps/<app id or name>`` | list those of the caller's resource, in that app |
| ``GET /data/cdc/v0/connectors/<id or name>`` | one connector (404 once destroyed) |
| ``PATCH /data/cdc/v0/connectors/<id>`` | ``{"tables"?, "excluded_columns"?, "settings"?}`` |
| | (``settings`` merge into the current ones) |
| ``DELETE /data/cdc/v0/connectors/<id>`` | destroy (answers the deprovisioned connector) |
| ``PUT /data/cdc/v0/connectors/<id>/pause`` and ``/resume`` | pause, resume |

``<id>`` is a connector's uuid or, as Heroku's CLI passes it, its name (among the
connectors of the resource the caller's token or session opens).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, session

from marketplace.cdc_api.service import service
from marketplace.dashboard.access import require_access_to, token_owner
from marketplace.errors import Forbidden, NotFound, Unprocessable
from marketplace.models import ConnectorStatus
from marketplace.services.data_connector_lookup import in_app
from marketplace.services.data_connector_views import ConnectorView, as_json, parse_request
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("cdc_api", __name__, url_prefix="/data/cdc/v0")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/databases/<uuid>/connectors")
def create(uuid: str) -> tuple[Response, int]:
    """Create a connector on the Postgres resource ``uuid``."""
    require_access_to(uuid)
    body = parse_request(_body(empty_ok=False), creating=True)
    if body.postgres not in (None, uuid):
        raise Unprocessable('"postgres_addon_uuid" names another resource than the URL.')
    return jsonify(as_json(service().create(uuid, body))), 201


@bp.post("/kafka_tenants/<kafka_uuid>")
def create_on_kafka(kafka_uuid: str) -> tuple[Response, int]:
    """Create a connector into the Kafka resource ``kafka_uuid`` (Heroku's route): the body
    names the Postgres resource in ``postgres_addon_uuid``, whose access is required."""
    body = _body(empty_ok=False)
    postgres = body.get("postgres_addon_uuid") if isinstance(body, dict) else None
    if not isinstance(postgres, str) or not postgres.strip():
        raise Unprocessable('Name the Postgres resource: "postgres_addon_uuid": "<uuid>".')
    require_access_to(postgres.strip())
    if any(body.get(key, kafka_uuid) != kafka_uuid for key in ("kafka", "kafka_addon_uuid")):
        raise Unprocessable('"kafka" names another resource than the URL.')
    checked = parse_request({**body, "kafka": kafka_uuid}, creating=True)
    return jsonify(as_json(service().create(postgres.strip(), checked))), 201


@bp.get("/addons/<uuid>")
def list_for_addon(uuid: str) -> Response:
    """The connectors of a Postgres resource, or those writing into a Kafka resource."""
    require_access_to(uuid)
    return jsonify([as_json(view) for view in service().list_for_addon(uuid)])


@bp.get("/apps/<app>")
def list_for_app(app: str) -> Response:
    """Heroku's per-app list. Access here is per resource, so this lists the connectors of
    the resource the caller's token or session opens, when it belongs to ``app``."""
    caller = _caller()
    if caller is None:
        raise Forbidden("Send a resource's API token as a Bearer token, or open its dashboard.")
    require_access_to(caller)
    if not in_app(service().resource(caller), app):
        raise Forbidden("This credential opens no resource of that app.")
    return jsonify([as_json(view) for view in service().list_for_addon(caller)])


@bp.get("/databases/<uuid>/connectors")
def list_connectors(uuid: str) -> Response:
    """The resource's connectors."""
    require_access_to(uuid)
    return jsonify([as_json(view) for view in service().list_for(uuid)])


@bp.get("/connectors/<connector_id>")
def show(connector_id: str) -> Response:
    """One connector; 404 once destroyed (what Heroku's clients wait for)."""
    return jsonify(as_json(_live(_authorize(connector_id))))


@bp.patch("/connectors/<connector_id>")
def update(connector_id: str) -> Response:
    """Change tables, excluded columns or settings."""
    connector_id = _authorize(connector_id)
    body = parse_request(_body(empty_ok=True), creating=False)
    return jsonify(as_json(service().update(connector_id, body)))


@bp.delete("/connectors/<connector_id>")
def destroy(connector_id: str) -> Response:
    """Destroy the connector."""
    connector_id = _authorize(connector_id)
    _live(connector_id)
    return jsonify(as_json(service().destroy(connector_id)))


@bp.put("/connectors/<connector_id>/pause")
def pause(connector_id: str) -> Response:
    """Pause streaming."""
    return jsonify(as_json(service().pause(_authorize(connector_id))))


@bp.put("/connectors/<connector_id>/resume")
def resume(connector_id: str) -> Response:
    """Resume streaming."""
    return jsonify(as_json(service().resume(_authorize(connector_id))))


def _authorize(key: str) -> str:
    """The id of connector ``key`` (uuid, or name among the caller's resource's), once the
    caller's access to its Postgres resource is checked."""
    caller = _caller()
    # Names are looked up among the caller's resource's connectors only (so nothing tells
    # whether another tenant has a connector of that name); without a caller, ids only.
    connector_id = service().connector_id(key, caller, by_name=caller is not None)
    require_access_to(service().postgres_uuid(connector_id))
    return connector_id


def _live(connector_id: str) -> ConnectorView:
    """:raises NotFound: the connector was destroyed (saying why)."""
    view = service().get(connector_id)
    if view.status == ConnectorStatus.DEPROVISIONED:
        raise NotFound(f"The data connector was destroyed. {view.status_reason or ''}".strip())
    return view


def _caller() -> str | None:
    """The uuid of the resource the request's API token or session opens, or None.

    :raises Unauthorized: a Bearer token that opens nothing.
    """
    owner = token_owner()
    if owner is not None:
        return owner
    resource = session.get(SESSION_RESOURCE)
    return resource if isinstance(resource, str) else None


def _body(*, empty_ok: bool) -> Any:
    """The request's JSON (whatever its content type); an empty body is ``{}`` when
    ``empty_ok`` (``PATCH`` with nothing to change hands over fresh credentials). JSON the
    broker refuses (NUL, lone surrogates, too deep) or that does not parse is a 400 that
    says so, rather than a vague "send a JSON object"."""
    if empty_ok and not request.get_data(cache=True):
        return {}
    return request.get_json(force=True)
