"""The resource dashboard: who may see it is decided by the SSO session alone."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, session, url_for

from marketplace.context import broker
from marketplace.errors import Forbidden
from marketplace.services.dashboard import dashboard_view
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _require_session_for(uuid: str) -> None:
    if session.get(SESSION_RESOURCE) != uuid:
        raise Forbidden(
            "This session does not grant access to that resource. "
            "Open it from the platform's dashboard."
        )


@bp.get("/<string:uuid>")
def show(uuid: str) -> str:
    """The resource's overview: add-on, plan, state, region and masked config vars."""
    _require_session_for(uuid)
    view = dashboard_view(uuid, broker().vault)
    return render_template(
        "dashboard/show.html", view=view, email=session.get("email"), app=session.get("app")
    )


@bp.post("/logout")
def logout() -> Response:
    """End the session."""
    session.clear()
    return redirect(url_for("dashboard.signed_out"))


@bp.get("/signed-out")
def signed_out() -> str:
    """Shown after logout."""
    return render_template("dashboard/signed_out.html")
