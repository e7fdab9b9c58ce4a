"""Leases and locks on resource rows.

A **lease** lets one party at a time (a web request, a worker) work on a resource's backend
objects. It is two columns on the row, taken with one conditional UPDATE (so two parties
racing for it cannot both win, on SQLite or PostgreSQL), and it expires on its own, so a
process killed mid-step only delays the work until the lease runs out.

Work against a backend or the platform happens while holding a lease and **no store
transaction**: the intent is committed first, the network call runs, the outcome is committed
after. A slow backend therefore slows only its own resources, on either store.

:func:`lock_resource` is for short critical sections that make no network call.
"""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, true, update

from marketplace.errors import NotFound, ServiceUnavailable
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import utcnow


def claim(uuid: str, owner: str, ttl: timedelta, **also: object) -> bool:
    """Take the lease on ``uuid`` for ``ttl`` unless someone else holds a live one; set the
    columns in ``also`` in the same statement (a state change that needs the lease)."""
    now = utcnow()
    result = db.session.execute(
        update(Resource)
        .where(
            Resource.uuid == uuid,
            # A state change rides on the lease only while the resource is not gone.
            Resource.state != ResourceState.DEPROVISIONED if also else true(),
            or_(
                Resource.lease_owner.is_(None),
                Resource.lease_owner == owner,
                Resource.lease_expires_at < now,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + ttl, **also)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


#: How long a web request's lease lasts: longer than any backend call it makes (their timeouts
#: fit inside the platform's 25-30 s request limit), so it never runs out under a live request.
REQUEST_LEASE = timedelta(seconds=60)
#: How long a web request waits for another party's lease on the same resource.
REQUEST_LEASE_WAIT_SECONDS = 20.0
_POLL_SECONDS = 0.05


def claim_or_wait(
    uuid: str,
    owner: str,
    ttl: timedelta,
    wait_seconds: float,
    check: Callable[[], object] | None = None,
    **also: object,
) -> bool:
    """Take the lease, waiting up to ``wait_seconds`` for another holder to finish.

    :param check: called after each failed attempt; it may raise to stop waiting (for
        example when the other holder removed the resource).
    """
    deadline = time.monotonic() + wait_seconds
    while not claim(uuid, owner, ttl, **also):
        if check is not None:
            check()
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


@dataclass
class Lease:
    """A web request's lease on one resource. Work that clears the lease columns in its own
    final write sets ``released``, which saves the separate release round trip."""

    uuid: str
    owner: str
    released: bool = False

    def clear(self, resource: Resource) -> None:
        """Give the lease back as part of the caller's next commit on ``resource``."""
        resource.lease_owner = None
        resource.lease_expires_at = None
        self.released = True


def new_owner() -> str:
    """A lease owner id for one web request."""
    return f"request-{uuid_module.uuid4().hex}"


@contextmanager
def request_lease(
    uuid: str,
    *,
    ttl: timedelta = REQUEST_LEASE,
    wait_seconds: float = REQUEST_LEASE_WAIT_SECONDS,
    held_by: str | None = None,
    also: dict[str, object] | None = None,
    check: Callable[[], object] | None = None,
) -> Iterator[Lease]:
    """Hold ``uuid``'s lease for the duration of a web request's work.

    :param held_by: the owner that already holds it (taken with the row's INSERT).
    :param also: columns to set in the statement that takes the lease.
    :param check: see :func:`claim_or_wait`.
    :raises ServiceUnavailable: another party held it for longer than ``wait_seconds``.
    """
    lease = Lease(uuid, held_by or new_owner())
    taken = held_by is not None or claim_or_wait(
        uuid, lease.owner, ttl, wait_seconds, check, **(also or {})
    )
    if not taken:
        raise ServiceUnavailable(
            "Another change to this resource is still in progress; retry in a few seconds.",
            headers={"Retry-After": "5"},
        )
    try:
        yield lease
    finally:
        if not lease.released:
            release(uuid, lease.owner)


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


def commit_under_lease() -> None:
    """Commit without expiring what the session has loaded.

    For a party that holds a resource's lease: nobody else writes that row until the lease
    is given back, so the loaded objects stay true after the commit, and SQLAlchemy's default
    (expire everything, re-read it on the next access) would only add round trips.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def end_transaction_under_lease() -> None:
    """End the open transaction before a backend call, so no store transaction or lock is
    held across it, keeping the loaded objects (see :func:`commit_under_lease`). Anything
    still pending is discarded, as a rollback would."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.rollback()
    else:
        commit_under_lease()
