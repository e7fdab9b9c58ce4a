"""External Objects on the resource's dashboard: a panel and its forms (SSO session only).

The dashboard template asks :func:`external_objects_panel` (a template global) for the
panel; it is None unless the resource's adapter is a data service. Turning on and resetting
render the dashboard with the new credentials on that response only (never flashed: the
session cookie is signed, not encrypted).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from marketplace.adapters import DataService
from marketplace.adapters.data import TableCandidate
from marketplace.context import lifecycle
from marketplace.dashboard.access import require_session_for
from marketplace.dashboard.views import show
from marketplace.errors import MarketplaceError
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.odata import management
from marketplace.odata.management import Credentials

bp = Blueprint("odata_dashboard", __name__)

NEW_CREDENTIALS = "odata_new_credentials"


@dataclass(frozen=True)
class ExternalObjectsPanel:
    """What the panel shows."""

    unavailable: str | None
    enabled: bool
    url: str | None
    username: str | None
    tables: tuple[str, ...]
    candidates: tuple[TableCandidate, ...]
    candidates_error: str | None
    new_credentials: Credentials | None


def external_objects_panel(uuid: str) -> ExternalObjectsPanel | None:
    """The panel for resource ``uuid``, or None when its add-on has no data service."""
    lc = lifecycle()
    resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
    if resource is None or resource.state != ResourceState.PROVISIONED:
        return None
    if not isinstance(lc.registry.get(resource.addon.slug), DataService):
        return None
    reason = management.unavailable_reason(resource, lc)
    state = management.state_of(uuid, str(current_app.config["MARKETPLACE_URL"]))
    found: tuple[TableCandidate, ...] = ()
    problem = None
    if reason is None and state.enabled:
        try:
            found = tuple(management.candidates(uuid, lc))
        except MarketplaceError as error:
            problem = error.message
    return ExternalObjectsPanel(
        unavailable=reason,
        enabled=state.enabled,
        url=state.url,
        username=state.username,
        tables=state.tables,
        candidates=found,
        candidates_error=problem,
        new_credentials=g.get(NEW_CREDENTIALS),
    )


def init_app(app: Flask) -> None:
    """Make the panel available to the dashboard template."""
    app.add_template_global(external_objects_panel)


def _back(uuid: str) -> ResponseReturnValue:
    return redirect(url_for("dashboard.show", uuid=uuid) + "#external-objects")


def _with_credentials(uuid: str, answer: Credentials) -> ResponseReturnValue:
    g.setdefault(NEW_CREDENTIALS, answer)
    return show(uuid)


@bp.post("/dashboard/<uuid>/odata")
def enable(uuid: str) -> ResponseReturnValue:
    """Turn External Objects on and show the credentials once."""
    require_session_for(uuid)
    try:
        answer = management.enable(uuid, lifecycle(), str(current_app.config["MARKETPLACE_URL"]))
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    return _with_credentials(uuid, answer)


@bp.post("/dashboard/<uuid>/odata/reset")
def reset(uuid: str) -> ResponseReturnValue:
    """New password (the old one works 10 more minutes); shown once."""
    require_session_for(uuid)
    try:
        base = str(current_app.config["MARKETPLACE_URL"])
        answer = management.reset_credentials(uuid, lifecycle(), base)
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    return _with_credentials(uuid, answer)


@bp.post("/dashboard/<uuid>/odata/revoke")
def revoke(uuid: str) -> ResponseReturnValue:
    """Turn External Objects off; the credentials stop working at once."""
    require_session_for(uuid)
    management.disable(uuid)
    flash("External Objects are off; the credentials no longer work.", "ok")
    return _back(uuid)


@bp.post("/dashboard/<uuid>/odata/tables")
def share(uuid: str) -> ResponseReturnValue:
    """Share the ticked tables."""
    require_session_for(uuid)
    try:
        shared = management.set_tables(uuid, request.form.getlist("tables"), lifecycle())
        flash(f"{len(shared)} tables shared.", "ok")
    except MarketplaceError as error:
        flash(error.message, "error")
    return _back(uuid)
