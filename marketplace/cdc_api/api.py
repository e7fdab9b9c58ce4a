"""The data connectors JSON API, shaped like Heroku's (``/data/cdc/v0``).

Authorized by the Postgres resource's SSO session or API token (``Authorization: Bearer``,
see :mod:`marketplace.dashboard.access`); a connector is opened by its Postgres resource's.

| call | does |
| --- | --- |
| ``POST /data/cdc/v0/databases/<uuid>/connectors`` | create (201): ``{"kafka", "tables", |
| | "excluded_columns"?, "name"?, "settings"?}`` |
| ``GET /data/cdc/v0/databases/<uuid>/connectors`` | list |
| ``GET /data/cdc/v0/connectors/<id>`` | one connector |
| ``PATCH /data/cdc/v0/connectors/<id>`` | ``{"tables"?, "excluded_columns"?, "settings"?}`` |
| ``DELETE /data/cdc/v0/connectors/<id>`` | destroy (answers the deprovisioned connector) |
| ``PUT /data/cdc/v0/connectors/<id>/pause`` and ``/resume`` | pause, resume |
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from marketplace.cdc_api.service import service
from marketplace.dashboard.access import require_access_to
from marketplace.services.data_connector_views import as_json, parse_request

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
    return jsonify(as_json(service().create(uuid, body))), 201


@bp.get("/databases/<uuid>/connectors")
def list_connectors(uuid: str) -> Response:
    """The resource's connectors."""
    require_access_to(uuid)
    return jsonify([as_json(view) for view in service().list_for(uuid)])


@bp.get("/connectors/<connector_id>")
def show(connector_id: str) -> Response:
    """One connector."""
    _authorize(connector_id)
    return jsonify(as_json(service().get(connector_id)))


@bp.patch("/connectors/<connector_id>")
def update(connector_id: str) -> Response:
    """Change tables, excluded columns or settings."""
    _authorize(connector_id)
    body = parse_request(_body(empty_ok=True), creating=False)
    return jsonify(as_json(service().update(connector_id, body)))


@bp.delete("/connectors/<connector_id>")
def destroy(connector_id: str) -> Response:
    """Destroy the connector."""
    _authorize(connector_id)
    return jsonify(as_json(service().destroy(connector_id)))


@bp.put("/connectors/<connector_id>/pause")
def pause(connector_id: str) -> Response:
    """Pause streaming."""
    _authorize(connector_id)
    return jsonify(as_json(service().pause(connector_id)))


@bp.put("/connectors/<connector_id>/resume")
def resume(connector_id: str) -> Response:
    """Resume streaming."""
    _authorize(connector_id)
    return jsonify(as_json(service().resume(connector_id)))


def _authorize(connector_id: str) -> None:
    require_access_to(service().postgres_uuid(connector_id))


def _body(*, empty_ok: bool) -> Any:
    """The request's JSON (whatever its content type); an empty body is ``{}`` when
    ``empty_ok`` (``PATCH`` with nothing to change hands over fresh credentials). JSON the
    broker refuses (NUL, lone surrogates, too deep) or that does not parse is a 400 that
    says so, rather than a vague "send a JSON object"."""
    if empty_ok and not request.get_data(cache=True):
        return {}
    return request.get_json(force=True)
