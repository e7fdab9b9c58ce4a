"""The resource dashboard (pages) and its JSON twin; access comes from the SSO session alone."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from marketplace.context import broker
from marketplace.errors import BadRequest, Forbidden, MarketplaceError
from marketplace.services.dashboard import dashboard_view, perform_action, rotate_credentials
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("dashboard", __name__)


@bp.after_request
def _no_store(response: Response) -> Response:
    """Dashboards carry credentials: no cache may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_session_for(uuid: str) -> None:
    if session.get(SESSION_RESOURCE) != uuid:
        raise Forbidden(
            "This session does not grant access to that resource. "
            "Open it from the platform's dashboard."
        )


@bp.get("/dashboard/<uuid>")
def show(uuid: str) -> str:
    """Overview, credentials, usage against the plan, and the add-on's own panel."""
    _require_session_for(uuid)
    state = broker()
    view = dashboard_view(uuid, state.vault, state.registry)
    app_name = session.get("app") or ""
    back = f"{current_app.config['PLATFORM_DASHBOARD_URL'].rstrip('/')}/apps/{app_name}"
    return render_template(
        "dashboard/show.html",
        view=view,
        email=session.get("email"),
        app=app_name,
        back_url=back if app_name else None,
    )


@bp.post("/dashboard/<uuid>/credentials/rotate")
def rotate(uuid: str) -> Response:
    """Issue new credentials (the form asks for confirmation first)."""
    _require_session_for(uuid)
    if request.form.get("confirm") != "rotate":
        flash("Tick the confirmation box to rotate the credentials.", "error")
        return redirect(url_for("dashboard.show", uuid=uuid))
    state = broker()
    try:
        changed, pushed = rotate_credentials(
            uuid, state.vault, state.registry, state.queue.enqueue_drive
        )
    except MarketplaceError as error:
        flash(error.message, "error")
        return redirect(url_for("dashboard.show", uuid=uuid))
    names = ", ".join(sorted(changed))
    if pushed:
        flash(
            f"New credentials issued ({names}). The platform is receiving them; "
            "your app restarts with them shortly.",
            "ok",
        )
    else:
        flash(
            f"New credentials issued ({names}). The old ones no longer work: set the new "
            "values on your app (heroku config:set).",
            "info",
        )
    return redirect(url_for("dashboard.show", uuid=uuid))


@bp.post("/dashboard/<uuid>/actions/<action>")
def act(uuid: str, action: str) -> Response:
    """Run one of the add-on's actions from its dashboard form."""
    _require_session_for(uuid)
    params = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm")}
    state = broker()
    try:
        flash(perform_action(uuid, action, params, state.vault, state.registry), "ok")
    except MarketplaceError as error:
        flash(error.message, "error")
    return redirect(url_for("dashboard.show", uuid=uuid))


@bp.get("/resources/<uuid>")
def resource_json(uuid: str) -> Response:
    """The dashboard's data as JSON (same session; for scripts and the add-on's own UI)."""
    _require_session_for(uuid)
    state = broker()
    view = dashboard_view(uuid, state.vault, state.registry)
    return jsonify(_as_json(view))


@bp.post("/resources/<uuid>/actions/<action>")
def action_json(uuid: str, action: str) -> Response:
    """Run an action with a JSON body (send the CSRF token in ``X-CSRFToken``)."""
    _require_session_for(uuid)
    params = request.get_json(silent=True)
    if not isinstance(params, dict) or not all(isinstance(v, str | int) for v in params.values()):
        raise BadRequest("Send a JSON object of string or number parameters.")
    state = broker()
    message = perform_action(
        uuid, action, {k: str(v) for k, v in params.items()}, state.vault, state.registry
    )
    return jsonify({"message": message})


@bp.post("/dashboard/logout")
def logout() -> Response:
    """End the session."""
    session.clear()
    return redirect(url_for("dashboard.signed_out"))


@bp.get("/dashboard/signed-out")
def signed_out() -> str:
    """Shown after logout."""
    return render_template("dashboard/signed_out.html")


def _as_json(view: Any) -> dict[str, Any]:
    usage = view.usage.metrics if view.usage else ()
    details = view.details
    return {
        "id": view.uuid,
        "name": view.name,
        "addon": view.addon_slug,
        "plan": view.plan_slug,
        "state": view.state,
        "region": view.region,
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
        "unavailable": view.unavailable,
    }
