"""Work leases on resource rows: one worker at a time drives a resource's asynchronous steps.

A lease is two columns on the row. It is taken with one conditional UPDATE (so two workers
racing for it cannot both win, on SQLite or PostgreSQL) and expires on its own, so a worker
killed mid-step only delays the work until the reconciler hands it to another worker.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update

from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.models._types import utcnow


def claim(uuid: str, owner: str, ttl: timedelta) -> bool:
    """Take the lease on ``uuid`` for ``ttl`` unless someone else holds a live one."""
    now = utcnow()
    result = db.session.execute(
        update(Resource)
        .where(
            Resource.uuid == uuid,
            or_(
                Resource.lease_owner.is_(None),
                Resource.lease_owner == owner,
                Resource.lease_expires_at < now,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(uuid: str, owner: str) -> None:
    """Give the lease back (only if ``owner`` still holds it)."""
    db.session.rollback()
    db.session.execute(
        update(Resource)
        .where(Resource.uuid == uuid, Resource.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
