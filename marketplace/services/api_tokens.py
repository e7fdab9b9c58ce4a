"""Per-resource API tokens: what CLIs and scripts send as ``Authorization: Bearer <token>``.

A token is shown once when issued; the store keeps only its SHA-256 (the token carries 256
bits of randomness, so a plain hash is enough). A token opens its own resource's JSON
endpoints and nothing else.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from marketplace.errors import Unprocessable
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services.crypto import secrets_equal
from marketplace.services.leases import lock_resource

TOKEN_PREFIX = "mkt_rt_"  # noqa: S105 (a public marker, not a secret)
MAX_TOKEN_LENGTH = 128


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(uuid: str) -> str:
    """Issue a new token for ``uuid`` (the previous one stops working); return it.

    :raises Unprocessable: the resource is not provisioned.
    """
    resource = lock_resource(uuid)
    if resource.state != ResourceState.PROVISIONED:
        db.session.rollback()
        raise Unprocessable(f"The resource is {resource.state}; API tokens need a live resource.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    resource.api_token_hash = token_digest(token)
    resource.api_token_created_at = utcnow()
    db.session.commit()
    return token


def revoke(uuid: str) -> None:
    """Revoke ``uuid``'s token, if it has one."""
    resource = lock_resource(uuid)
    resource.api_token_hash = None
    resource.api_token_created_at = None
    db.session.commit()


def resource_for(token: str) -> str | None:
    """The uuid of the live resource ``token`` belongs to, or None.

    The lookup goes through the digest's unique index; the digests are then compared in
    constant time, so timing says nothing about how much of a guess was right.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = token_digest(token)
    row = db.session.execute(
        select(Resource.uuid, Resource.api_token_hash, Resource.state).where(
            Resource.api_token_hash == digest
        )
    ).first()
    db.session.rollback()
    if row is None or row.api_token_hash is None or row.state != ResourceState.PROVISIONED:
        return None
    return str(row.uuid) if secrets_equal(row.api_token_hash, digest) else None
