"""The resource's JSON endpoints: the dashboard's data, actions and links.

Authorized by the resource's SSO session or its API token (see :mod:`.access`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from marketplace.cdc_api.panel import connector_panel
from marketplace.context import broker, lifecycle
from marketplace.dashboard import rotation
from marketplace.dashboard.access import require_access_to
from marketplace.errors import BadRequest
from marketplace.services import links
from marketplace.services.dashboard import (
    DashboardView,
    dashboard_view,
    perform_action,
    reveal_config_var,
)
from marketplace.services.data_connector_views import as_json as connector_json

bp = Blueprint("resource_api", __name__)

MAX_PARAMS = 50


@bp.after_request
def _no_store(response: Response) -> Response:
    """Resource data may carry credentials: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/resources/<uuid>")
def resource_json(uuid: str) -> Response:
    """The dashboard's data as JSON (config var names only, never their values); a resource
    with data connectors also lists them, as ``GET /data/cdc/v0/databases/<uuid>/connectors``
    shows each (``data_connectors_unavailable`` says why when their status could not be read)."""
    require_access_to(uuid)
    body = as_json(dashboard_view(uuid, lifecycle()))
    panel = connector_panel(uuid)
    if panel is not None:
        body["data_connectors"] = [connector_json(view) for view in panel.connectors]
        body["data_connectors_unavailable"] = panel.unavailable
    return jsonify(body)


@bp.post("/resources/<uuid>/config-vars/<name>/reveal")
def reveal_json(uuid: str, name: str) -> Response:
    """One config var's value: ``{"name", "value"}`` (never cached)."""
    require_access_to(uuid)
    return jsonify({"name": name, "value": reveal_config_var(uuid, name, lifecycle())})


@bp.post("/resources/<uuid>/credentials/rotate")
def rotate_json(uuid: str) -> Response:
    """Issue new credentials, as the dashboard's confirmed rotation does: the old ones stop
    working. Answers ``{"message", "config_vars": [names changed], "pushed_to_platform",
    "data_connectors_missed": [names]}``; the new values are read with the reveal endpoint
    (never sent unasked). When ``pushed_to_platform`` is false the app must be given them
    (``heroku config:set``); a data connector named as missed takes a rotated Kafka login on
    its next (empty) PATCH.

    :raises Unprocessable: not provisioned, or the add-on has no credentials to rotate.
    :raises ServiceUnavailable: the backend is down; nothing changed.
    """
    require_access_to(uuid)
    rotated = rotation.rotate(uuid)
    return jsonify(
        {
            "message": rotated.message,
            "config_vars": rotated.config_vars,
            "pushed_to_platform": rotated.pushed,
            "data_connectors_missed": rotated.connectors_missed,
        }
    )


@bp.post("/resources/<uuid>/actions/<action>")
def action_json(uuid: str, action: str) -> Response:
    """Run an action with a JSON object of string or number parameters."""
    require_access_to(uuid)
    params = request.get_json(silent=True)
    if (
        not isinstance(params, dict)
        or len(params) > MAX_PARAMS
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in params.values())
    ):
        raise BadRequest("Send a JSON object of string or number parameters.")
    outcome = perform_action(
        uuid, action, {k: str(v) for k, v in params.items()}, lifecycle(), broker().queue
    )
    body: dict[str, Any] = {"message": outcome.message}
    if outcome.redirect:
        body["redirect"] = outcome.redirect
    return jsonify(body)


@bp.put("/resources/<uuid>/links/<name>")
def attach_link(uuid: str, name: str) -> Response:
    """Point the link ``name`` at a resource of the same app: ``{"target": "<uuid or name>"}``."""
    require_access_to(uuid)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("target"), str):
        raise BadRequest('Send {"target": "<resource uuid or name>"}.')
    result = links.attach(uuid, name, body["target"], lifecycle())
    return jsonify({"message": result.message})


@bp.delete("/resources/<uuid>/links/<name>")
def detach_link(uuid: str, name: str) -> Response:
    """Remove the link ``name``."""
    require_access_to(uuid)
    result = links.detach(uuid, name, lifecycle())
    return jsonify({"message": result.message})


def as_json(view: DashboardView) -> dict[str, Any]:
    """The JSON form of a dashboard view."""
    usage = view.usage.metrics if view.usage else ()
    details = view.details
    return {
        "id": view.uuid,
        "name": view.name,
        "addon": view.addon_slug,
        "plan": view.plan_slug,
        "state": view.state,
        "region": view.region,
        "condition": view.condition,
        "config_vars": [var.name for var in view.config_vars],
        "usage": [
            {"name": m.name, "label": m.label, "value": m.value, "limit": m.limit, "unit": m.unit}
            for m in usage
        ],
        "facts": dict(details.facts) if details else {},
        "tables": [
            {"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
            for t in (details.tables if details else ())
        ],
        "actions": [a.name for a in (details.actions if details else ())],
        "links": [
            {
                "name": link.name,
                "addon": link.addon,
                "target": (
                    {"id": link.target.uuid, "name": link.target.name} if link.target else None
                ),
            }
            for link in view.links
        ],
        "unavailable": view.unavailable,
    }
