"""``POST /sso/login`` (and ``GET``): verify the platform's token, open a session scoped to one
resource.

The platform posts a form; when its SSO answer says ``GET`` (the CLI's ``addons:open`` then
opens the URL), the same fields come in the query string, and are checked the same way.

Only the resource id, timestamp and token (and, for a user-scoped token, the user id and
email) are covered by the token; ``nav-data``, ``app`` and, for other tokens, ``email`` are
whatever the posting browser sent. They are checked here, and a value that fails its check is
dropped (the sign-in goes on without it): it must never spend the single-use token on a
response that then fails, nor reach a header or the session cookie as it came.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed

from marketplace.context import broker
from marketplace.extensions import csrf
from marketplace.services.sso import verify_sso

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)

NAV_COOKIE = "heroku-nav-data"
SESSION_RESOURCE = "resource_uuid"
#: The platform's nav-data is base64 (url-safe or not) of a small JSON document.
NAV_DATA_MAX = 4096
_NAV_DATA = re.compile(r"[A-Za-z0-9+/=_.-]+")
#: App names: lowercase letters, digits and dashes; more than enough room.
_APP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
EMAIL_MAX = 254


def nav_data(value: str | None) -> str | None:
    """The ``nav-data`` value if it is safe to put in a cookie, else None (and a log line
    naming the reason, never the value)."""
    if not value:
        return None
    if len(value) > NAV_DATA_MAX or _NAV_DATA.fullmatch(value) is None:
        log.info("sso nav-data ignored: %s", "too long" if len(value) > NAV_DATA_MAX else "charset")
        return None
    return value


def display_value(value: str | None, limit: int) -> str:
    """A printable value of at most ``limit`` characters, else ``""``."""
    if not value or len(value) > limit or not value.isprintable():
        return ""
    return value


@bp.route("/sso/login", methods=["GET", "POST"])
@csrf.exempt  # the platform posts this form from its own origin
def login() -> ResponseReturnValue:
    """Sign the user in to one resource and send them to its dashboard (form post, or the
    same fields in the query string)."""
    if request.method == "HEAD":  # a link checker's probe must not spend the one-use token
        raise MethodNotAllowed(valid_methods=["GET", "POST"])
    form = (request.form if request.method == "POST" else request.args).to_dict()
    navigation = nav_data(form.get("nav-data"))  # checked before the token is spent
    login = verify_sso(form, broker().vault)
    app_name = login.app if _APP_NAME.fullmatch(login.app or "") else ""
    session.clear()
    session.permanent = True
    session[SESSION_RESOURCE] = login.resource_uuid
    session["email"] = display_value(login.email, EMAIL_MAX)
    session["app"] = app_name
    response = redirect(url_for("dashboard.show", uuid=login.resource_uuid), code=302)
    response.headers["Cache-Control"] = "no-store"
    if navigation is None:
        response.delete_cookie(NAV_COOKIE, path="/")
    else:
        response.set_cookie(
            NAV_COOKIE, navigation, path="/", secure=request.is_secure, samesite="Lax"
        )
    return response
