"""``POST /sso/login``: verify the platform's token, open a session scoped to one resource."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from marketplace.context import broker
from marketplace.extensions import csrf
from marketplace.services.sso import verify_sso

bp = Blueprint("sso", __name__)

NAV_COOKIE = "heroku-nav-data"
SESSION_RESOURCE = "resource_uuid"


@bp.post("/sso/login")
@csrf.exempt  # the platform posts this form from its own origin
def login() -> ResponseReturnValue:
    """Sign the user in to one resource and send them to its dashboard."""
    login = verify_sso(request.form.to_dict(), broker().vault)
    session.clear()
    session.permanent = True
    session[SESSION_RESOURCE] = login.resource_uuid
    session["email"] = login.email
    session["app"] = login.app
    response = redirect(url_for("dashboard.show", uuid=login.resource_uuid), code=302)
    response.set_cookie(
        NAV_COOKIE,
        login.nav_data,
        path="/",
        secure=request.is_secure,
        samesite="Lax",
    )
    return response
