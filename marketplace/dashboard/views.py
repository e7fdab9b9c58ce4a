"""The resource dashboard's pages; access comes from the SSO session alone."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from marketplace.cdc_api.panel import connector_panel
from marketplace.context import broker, lifecycle
from marketplace.dashboard import rotation
from marketplace.dashboard.access import require_session_for
from marketplace.errors import MarketplaceError, error_response, http_exception_response
from marketplace.services import api_tokens, links
from marketplace.services.dashboard import (
    dashboard_view,
    perform_action,
    reveal_config_var,
)
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("dashboard", __name__)


@bp.after_request
def _no_store(response: Response) -> ResponseReturnValue:
    """Dashboards carry credentials: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    """A dashboard form (this blueprint's, or an add-on panel's) posted after its session
    ended (it expired, or the user signed out in another tab) fails the CSRF check before any
    view runs: say that the session ended, not that a token is missing; signing out is then
    already done."""
    if session.get(SESSION_RESOURCE) is not None or not request.path.startswith("/dashboard/"):
        return http_exception_response(error)
    if request.endpoint == "dashboard.logout":
        return redirect(url_for("dashboard.signed_out"))
    return error_response(
        403,
        "forbidden",
        "Your session has ended. Open the add-on again from the platform's dashboard.",
    )


def _show(
    uuid: str, new_api_token: str | None = None, revealed: dict[str, str] | None = None
) -> str:
    view = dashboard_view(uuid, lifecycle())
    app_name = session.get("app") or ""
    back = f"{current_app.config['PLATFORM_DASHBOARD_URL'].rstrip('/')}/apps/{app_name}"
    return render_template(
        "dashboard/show.html",
        view=view,
        email=session.get("email"),
        app=app_name,
        back_url=back if app_name else None,
        new_api_token=new_api_token,
        revealed=revealed or {},
        data_connectors=connector_panel(uuid),  # data connectors (issue 15)
    )


def _back(uuid: str) -> ResponseReturnValue:
    return redirect(url_for("dashboard.show", uuid=uuid))


@bp.get("/dashboard/<uuid>")
def show(uuid: str) -> str:
    """Overview, credentials, usage against the plan, links, and the add-on's own panel."""
    require_session_for(uuid)
    return _show(uuid)


@bp.post("/dashboard/<uuid>/config/<name>/reveal")
def reveal(uuid: str, name: str) -> str:
    """Show one config var's value, on this (uncached) response only."""
    require_session_for(uuid)
    return _show(uuid, revealed={name: reveal_config_var(uuid, name, lifecycle())})


@bp.post("/dashboard/<uuid>/credentials/rotate")
def rotate(uuid: str) -> ResponseReturnValue:
    """Issue new credentials (the form asks for confirmation first)."""
    require_session_for(uuid)
    if request.form.get("confirm") != "rotate":
        flash("Tick the confirmation box to rotate the credentials.", "error")
        return _back(uuid)
    try:
        rotated = rotation.rotate(uuid)
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    flash(rotated.message, "ok" if rotated.pushed else "info")
    if rotated.connectors_missed:
        flash(
            "These data connectors could not take the new Kafka credentials yet: "
            f"{', '.join(rotated.connectors_missed)}. Update each one (an empty PATCH) to retry.",
            "error",
        )
    return _back(uuid)


@bp.post("/dashboard/<uuid>/actions/<action>")
def act(uuid: str, action: str) -> ResponseReturnValue:
    """Run one of the add-on's actions from its dashboard form (it may redirect, e.g. to an
    OAuth login)."""
    require_session_for(uuid)
    params = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm")}
    try:
        outcome = perform_action(uuid, action, params, lifecycle(), broker().queue)
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    if outcome.redirect:
        return redirect(outcome.redirect, code=303)
    flash(outcome.message, "ok")
    return _back(uuid)


@bp.post("/dashboard/<uuid>/links/<name>")
def attach_link(uuid: str, name: str) -> ResponseReturnValue:
    """Point a declared link at a resource of the same app (picked from a list)."""
    require_session_for(uuid)
    try:
        result = links.attach(uuid, name, request.form.get("target", ""), lifecycle())
        flash(result.message, "ok")
    except MarketplaceError as error:
        flash(error.message, "error")
    return _back(uuid)


@bp.post("/dashboard/<uuid>/links/<name>/remove")
def detach_link(uuid: str, name: str) -> ResponseReturnValue:
    """Remove a link."""
    require_session_for(uuid)
    try:
        flash(links.detach(uuid, name, lifecycle()).message, "ok")
    except MarketplaceError as error:
        flash(error.message, "error")
    return _back(uuid)


@bp.post("/dashboard/<uuid>/api-token")
def issue_api_token(uuid: str) -> ResponseReturnValue:
    """Issue (or replace) the resource's API token and show it once, on this response only."""
    require_session_for(uuid)
    try:
        token = api_tokens.issue(uuid)
    except MarketplaceError as error:
        flash(error.message, "error")
        return _back(uuid)
    return _show(uuid, new_api_token=token)


@bp.post("/dashboard/<uuid>/api-token/revoke")
def revoke_api_token(uuid: str) -> ResponseReturnValue:
    """Revoke the resource's API token."""
    require_session_for(uuid)
    api_tokens.revoke(uuid)
    flash("The API token was revoked; calls that send it now get 401.", "ok")
    return _back(uuid)


@bp.post("/dashboard/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    session.clear()
    return redirect(url_for("dashboard.signed_out"))


@bp.get("/dashboard/signed-out")
def signed_out() -> str:
    """Shown after logout."""
    return render_template("dashboard/signed_out.html")
