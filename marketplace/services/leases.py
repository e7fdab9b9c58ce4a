"""Locks on resource rows.

:func:`lock_resource` serialises short critical sections (the Partner API's calls for one
uuid). Work leases let one worker at a time drive a resource's asynchronous steps.

A lease is two columns on the row. It is taken with one conditional UPDATE (so two workers
racing for it cannot both win, on SQLite or PostgreSQL) and expires on its own, so a worker
killed mid-step only delays the work until the reconciler hands it to another worker.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from marketplace.errors import NotFound
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
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


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


def lock_resource(uuid: str) -> Resource:
    """Lock the resource row for the rest of the transaction and return it, fresh.

    The UPDATE is the transaction's first statement on purpose: it takes PostgreSQL's row
    lock, or SQLite's write lock before any read, so waiting replaces "database is locked".
    """
    db.session.execute(update(Resource).where(Resource.uuid == uuid).values(updated_at=utcnow()))
    resource = db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )
    if resource is None:  # removed between our read and the lock
        db.session.rollback()
        raise NotFound("No resource with this uuid.")
    return resource
