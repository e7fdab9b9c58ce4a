"""The OAuth ``state`` parameter of add-on logins (Connect's Salesforce authorization).

A state is signed with the app's ``SECRET_KEY`` (itsdangerous, its own salt) and carries the
resource uuid, a SHA-256 of what it is bound to, a random nonce, the login host and its
issue time. It is accepted once, within :data:`MAX_AGE_SECONDS`, for that resource, and only
by the same binding:

* ``session:<random>`` - a value kept in the signed-in browser session (created on first
  use), so a state leaked to another browser is useless;
* ``token:<sha256 of the resource's API token>`` - for API callers (Heroku Connect's
  ``authorize_url`` opens the URL in a browser that may have no session): the callback then
  checks the resource's current API token digest instead.

Single use is enforced by the adapter, which records each nonce it trades for tokens (in its
private state, under the resource's row lock) and refuses a nonce it has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from marketplace.errors import Forbidden

MAX_AGE_SECONDS = 600
_SALT = "marketplace.oauth-state.v1"


@dataclass(frozen=True)
class OAuthState:
    """A verified state: whose login it is, its nonce and the login host."""

    resource_uuid: str
    nonce: str
    login_url: str
    binding_kind: str


def _digest(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


def issue(secret_key: str, resource_uuid: str, binding: str, login_url: str) -> str:
    """Sign a fresh state for ``resource_uuid`` bound to ``binding`` (``kind:value``)."""
    serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
    payload = {
        "r": resource_uuid,
        "b": _digest(binding),
        "k": binding.partition(":")[0],
        "n": secrets.token_urlsafe(18),
        "l": login_url,
    }
    return str(serializer.dumps(payload))


def verify(secret_key: str, token: str, proof: Callable[[str, str], str | None]) -> OAuthState:
    """Check a state returned to the callback.

    :param proof: ``proof(kind, resource_uuid)``: what the current request can show for a
        binding of that kind (``"session:…"`` or ``"token:…"``), or None.
    :raises Forbidden: forged, expired, or bound to another session or token.
    """
    serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
    try:
        payload = serializer.loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as error:
        raise Forbidden("The Salesforce login took too long; start it again.") from error
    except BadSignature as error:
        raise Forbidden("This login answer was not started here.") from error
    if not isinstance(payload, dict) or not all(k in payload for k in "rbknl"):
        raise Forbidden("This login answer was not started here.")
    shown = proof(str(payload["k"]), str(payload["r"]))
    if shown is None or not hmac.compare_digest(_digest(shown), str(payload["b"])):
        raise Forbidden(
            "This login was started from another session; start it again from the dashboard."
        )
    return OAuthState(str(payload["r"]), str(payload["n"]), str(payload["l"]), str(payload["k"]))
