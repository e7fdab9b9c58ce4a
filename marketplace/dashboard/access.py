"""Who may use a resource's pages and JSON endpoints: its SSO session, or its API token.

* Pages accept the resource's SSO session only.
* JSON endpoints accept the session or ``Authorization: Bearer <resource API token>``. A
  session-authenticated write carries the CSRF token in ``X-CSRFToken`` (the dashboard page
  provides it); a Bearer call needs none (no cookie is involved). A token works for its own
  resource only: 403 elsewhere; an unknown token is 401.
"""

from __future__ import annotations

from flask import request, session
from flask_wtf.csrf import CSRFError

from marketplace.errors import BadRequest, Forbidden, Unauthorized
from marketplace.extensions import csrf
from marketplace.services import api_tokens
from marketplace.sso.views import SESSION_RESOURCE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_SESSION = (
    "This session does not grant access to that resource. Open it from the platform's "
    "dashboard, or send the resource's API token as a Bearer token."
)


def require_session_for(uuid: str) -> None:
    """Pages: the signed-in session must be for ``uuid``.

    :raises Forbidden: no session, or a session for another resource.
    """
    if session.get(SESSION_RESOURCE) != uuid:
        raise Forbidden(
            "This session does not grant access to that resource. "
            "Open it from the platform's dashboard."
        )


def token_owner() -> str | None:
    """The uuid of the resource whose API token the request carries (``Authorization:
    Bearer``), or None when it carries none.

    :raises Unauthorized: a Bearer token that opens nothing.
    """
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        return None
    owner = api_tokens.resource_for(header[7:].strip())
    if owner is None:
        raise Unauthorized("The API token is not valid.", headers={"WWW-Authenticate": "Bearer"})
    return owner


def require_access_to(uuid: str) -> str:
    """JSON endpoints: the session or an API token must open ``uuid``; return which
    (``"session"`` or ``"token"``).

    :raises Unauthorized: a Bearer token that opens nothing.
    :raises Forbidden: a token or session for another resource, or neither.
    :raises BadRequest: a session write without a valid ``X-CSRFToken``.
    """
    owner = token_owner()
    if owner is not None:
        if owner != uuid:
            raise Forbidden("This API token belongs to another resource.")
        return "token"
    if session.get(SESSION_RESOURCE) != uuid:
        raise Forbidden(_NO_SESSION)
    if request.method not in SAFE_METHODS:
        try:
            csrf.protect()
        except CSRFError as error:
            raise BadRequest(
                f"Send the dashboard's CSRF token in the X-CSRFToken header ({error.description})"
            ) from error
    return "session"
