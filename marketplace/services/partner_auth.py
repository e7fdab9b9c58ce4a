"""Partner API authentication: HTTP Basic with the add-on's manifest id and password."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from marketplace.errors import Unauthorized
from marketplace.extensions import db
from marketplace.models import Addon
from marketplace.services.crypto import Vault, secrets_equal

# Compared against when the username names no add-on, so timing does not reveal which do.
_DECOY = secrets.token_urlsafe(24)
#: RFC 7235: a 401 names the scheme the client should use (RFC 7617 for Basic).
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Add-on Partner API", charset="UTF-8"'}


def authenticate_partner(username: str | None, password: str | None, vault: Vault) -> Addon:
    """Return the add-on whose manifest id and password these are.

    :raises Unauthorized: missing or wrong credentials (with a Basic challenge).
    """
    addon = db.session.scalar(select(Addon).where(Addon.slug == (username or "")))
    expected = vault.decrypt(addon.api_password_encrypted) if addon else _DECOY
    if not secrets_equal(password or "", expected) or addon is None or not username:
        raise Unauthorized("Missing or wrong add-on credentials.", headers=CHALLENGE)
    return addon
