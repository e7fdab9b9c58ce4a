"""The Postgres dashboard's data connectors panel: its forms (create, pause, resume,
destroy). Access comes from the resource's SSO session alone, like every dashboard page."""

from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from marketplace.cdc_api.service import service
from marketplace.dashboard.access import require_session_for
from marketplace.errors import MarketplaceError
from marketplace.services.data_connector_views import parse_request

bp = Blueprint("cdc_pages", __name__)

_SPLIT = re.compile(r"[\s,]+")


def _back(uuid: str) -> ResponseReturnValue:
    return redirect(url_for("dashboard.show", uuid=uuid) + "#data-connectors")


@bp.post("/dashboard/<uuid>/data-connectors")
def create(uuid: str) -> ResponseReturnValue:
    """Create a connector from the panel's form (tables and columns comma-separated)."""
    require_session_for(uuid)
    form = request.form
    body = {
        "kafka": form.get("kafka", ""),
        "tables": [t for t in _SPLIT.split(form.get("tables", "")) if t],
        "excluded_columns": [c for c in _SPLIT.split(form.get("excluded_columns", "")) if c],
        **({"name": form["name"].strip()} if form.get("name", "").strip() else {}),
    }
    try:
        view = service().create(uuid, parse_request(body, creating=True))
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    flash(f"Data connector {view.name} is being created.", "ok")
    return _back(uuid)


@bp.post("/dashboard/<uuid>/data-connectors/<connector_id>/<verb>")
def change(uuid: str, connector_id: str, verb: str) -> ResponseReturnValue:
    """Pause, resume or destroy one of this resource's connectors."""
    require_session_for(uuid)
    connectors = service()
    try:
        if connectors.postgres_uuid(connector_id) != uuid:
            raise MarketplaceError("That data connector belongs to another resource.")
        actions = {
            "pause": connectors.pause,
            "resume": connectors.resume,
            "destroy": connectors.destroy,
        }
        if verb not in actions:
            raise MarketplaceError(f"Unknown action {verb[:40]!r}.")
        view = actions[verb](connector_id)
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    done = {"pause": "paused", "resume": "resumed", "destroy": "destroyed"}[verb]
    flash(f"Data connector {view.name} {done}.", "ok")
    return _back(uuid)
