"""Who may call an OData service, and how often: HTTP Basic and a per-service rate limit.

* HTTP Basic (RFC 7617) with the service's username and password; the previous password
  also works until ``previous_expires_at`` (10 minutes after a reset). A wrong, revoked or
  unknown credential, an unknown service id, or a resource that is gone all answer the same
  401 with ``WWW-Authenticate: Basic realm="External Objects"``.
* Rate limit: a fixed window per service and clock hour, counted in the broker's store with
  one atomic ``UPDATE … RETURNING`` (so every web process shares the count). Past
  ``ODATA_RATE_LIMIT_PER_HOUR``: 429 with ``Retry-After`` (seconds to the next window).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from marketplace.errors import MarketplaceError, Unauthorized
from marketplace.extensions import db
from marketplace.models import ODataService, Resource, ResourceState
from marketplace.models._types import as_utc
from marketplace.odata import credentials

REALM = "External Objects"
MAX_HEADER = 512


class RateLimited(MarketplaceError):
    """Too many requests in this window (429)."""

    status, code = 429, "rate_limited"


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the service and its resource."""

    service: ODataService
    resource: Resource


def authenticate(service_id: str, authorization: str | None) -> Caller:
    """The service ``service_id`` if ``authorization`` holds its credentials.

    :raises Unauthorized: anything else (one answer for every reason).
    """
    username, password = _basic(authorization)
    row = db.session.execute(
        select(ODataService, Resource)
        .join(Resource, Resource.id == ODataService.resource_id)
        .where(ODataService.service_id == service_id[:64])
    ).first()
    if row is None or username is None or password is None:
        raise _denied()
    service, resource = row
    if not service.enabled or resource.state != ResourceState.PROVISIONED:
        raise _denied()
    if not hmac.compare_digest((service.username or "").encode(), username.encode()):
        raise _denied()
    if credentials.verify_password(password, service.password_hash):
        return Caller(service, resource)
    expires = service.previous_expires_at
    if (
        expires is not None
        and credentials.now() < as_utc(expires)
        and credentials.verify_password(password, service.previous_password_hash)
    ):
        return Caller(service, resource)
    raise _denied()


def count_request(service: ODataService, limit: int) -> None:
    """Count one request in the service's current window (committed at once).

    :raises RateLimited: the window already holds ``limit`` requests.
    """
    now = credentials.now()
    window = window_of(now)
    # Its own short transaction: the request's session (and its loaded rows) stays as it is.
    with db.engine.begin() as conn:
        count = conn.execute(
            update(ODataService)
            .where(ODataService.id == service.id)
            .values(
                window_count=case(
                    (ODataService.window_start == window, ODataService.window_count + 1), else_=1
                ),
                window_start=window,
            )
            .returning(ODataService.window_count)
        ).scalar_one()
    if count > limit:
        retry_after = max(1, math.ceil((window + timedelta(hours=1) - now).total_seconds()))
        raise RateLimited(
            f"This service made more than {limit} requests this hour; try again in "
            f"{retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or len(header) > MAX_HEADER or header[:6].lower() != "basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


def _denied() -> Unauthorized:
    db.session.rollback()
    return Unauthorized(
        "These credentials do not open this OData service.",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
    )


def window_of(moment: datetime) -> datetime:
    """The rate limit window ``moment`` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)
