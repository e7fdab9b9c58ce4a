"""The browser's side of the Salesforce login: start (signs the state) and callback.

``GET /connect/oauth/start/<uuid>?login_url=...`` (the dashboard's "Authorize" action
redirects here; needs the resource's session) redirects to Salesforce's authorize page.
``GET /connect/oauth/callback?code=...&state=...`` checks the state against this session (or,
for a login started through the API with a token, against the resource's current token),
trades the code for tokens once, and returns to the dashboard.
"""

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
from sqlalchemy import select

from marketplace.connect_api.routes import callback_url, session_binding
from marketplace.context import broker, lifecycle
from marketplace.dashboard.access import require_session_for
from marketplace.errors import MarketplaceError
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.services import connections
from marketplace.sso.views import SESSION_RESOURCE

bp = Blueprint("connect_oauth", __name__, url_prefix="/connect/oauth")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/start/<uuid>")
def start(uuid: str) -> ResponseReturnValue:
    """Send the signed-in user to Salesforce's login with a fresh, session-bound state."""
    require_session_for(uuid)
    login_url = request.args.get("login_url", current_app.config["SALESFORCE_LOGIN_URL"])
    try:
        url = connections.start_login(
            uuid,
            session_binding(),
            login_url,
            current_app.config["SECRET_KEY"],
            callback_url(),
            lifecycle(),
            broker().queue,
        )
    except MarketplaceError as error:
        flash(error.message, "error")
        return redirect(url_for("dashboard.show", uuid=uuid))
    return redirect(url, code=303)


def _proof(kind: str, resource_uuid: str) -> str | None:
    if kind == "session":
        value = session.get("oauth_binding")
        if session.get(SESSION_RESOURCE) != resource_uuid or not isinstance(value, str):
            return None
        return f"session:{value}"
    if kind == "token":
        digest = db.session.scalar(
            select(Resource.api_token_hash).where(Resource.uuid == resource_uuid)
        )
        db.session.rollback()
        return f"token:{digest}" if digest else None
    return None


@bp.get("/callback")
def callback() -> ResponseReturnValue:
    """Finish the login; back to the dashboard (or a short page without a session)."""
    token = request.args.get("state", "")
    signed_in = session.get(SESSION_RESOURCE)
    if request.args.get("error"):
        message = (
            "Salesforce login was not completed: "
            + request.args.get("error_description", request.args["error"])[:200]
        )
        return _finish(signed_in, message, "error", 400)
    try:
        uuid, message = connections.finish_login(
            token,
            request.args.get("code", ""),
            _proof,
            current_app.config["SECRET_KEY"],
            callback_url(),
            lifecycle(),
            broker().queue,
        )
    except MarketplaceError as error:
        return _finish(signed_in, error.message, "error", error.status)
    return _finish(uuid if signed_in == uuid else None, message, "ok", 200)


def _finish(uuid: str | None, message: str, category: str, status: int) -> ResponseReturnValue:
    if uuid:
        flash(message, category)
        return redirect(url_for("dashboard.show", uuid=uuid))
    page = render_template("errors/error.html", status=status, message=message)
    return Response(page, status=status, mimetype="text/html")
