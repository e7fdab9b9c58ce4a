"""The reconciler: re-drives work a lost job left behind (provisioning steps, removals and
background ticks), finishes abandoned provisions, and finds orphans (backend objects with this
broker's prefix that no live resource owns).

Resource rows are written before any backend object exists, so an object without a row is
an orphan, never work in progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from marketplace.adapters import AdapterError, BackendObject, Reconciliation
from marketplace.extensions import db
from marketplace.models import Addon, Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.scheduling import Scheduler

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    """What one reconciler run did."""

    redriven: list[str] = field(default_factory=list)
    ticks_redriven: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    orphans: dict[str, list[str]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


class Reconciler:
    """One pass over the store and every adapter's backend."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        scheduler: Scheduler,
        *,
        stuck_after_seconds: float,
        remove_orphans: bool,
        tick_grace_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._lifecycle = lifecycle
        self._registry = lifecycle.registry
        self._clock = clock
        self._scheduler = scheduler
        self._tick_grace = timedelta(seconds=tick_grace_seconds)
        self._stuck_after = timedelta(seconds=stuck_after_seconds)
        self._remove_orphans = remove_orphans

    def run(self) -> ReconcileReport:
        """Reconcile once; never raises for a backend that is down (it is reported)."""
        report = ReconcileReport()
        self._redrive(report)
        self._redrive_ticks(report)
        self._abandon_stale_sync_provisions(report)
        self._find_orphans(report)
        if report.redriven or report.abandoned or report.removed or any(report.orphans.values()):
            log.warning("reconciler acted", extra={"report": report.__dict__})
        return report

    def _redrive(self, report: ReconcileReport) -> None:
        """Queue asynchronous work (and any removal) whose worker is gone and whose turn is due.

        An expired lease is broken here, so the queued job can take it at once.
        """
        now = self._clock()
        rows = db.session.scalars(
            select(Resource).where(
                or_(
                    (Resource.state == ResourceState.PROVISIONING) & Resource.is_async,
                    Resource.state == ResourceState.DEPROVISIONING,
                    (Resource.state == ResourceState.PROVISIONED) & Resource.step.is_not(None),
                ),
                or_(Resource.lease_expires_at.is_(None), Resource.lease_expires_at < now),
                or_(Resource.next_attempt_at.is_(None), Resource.next_attempt_at <= now),
            )
        ).all()
        for resource in rows:
            resource.lease_owner = None
            resource.lease_expires_at = None
        db.session.commit()
        for resource in rows:
            self._scheduler.enqueue_drive(resource.uuid, 0.0)
            report.redriven.append(resource.uuid)

    def _redrive_ticks(self, report: ReconcileReport) -> None:
        """Queue background ticks overdue by more than the grace period whose lease is free:
        their job was lost (a killed worker). A duplicate of a tick still queued is harmless:
        a tick that is not due yet, or whose lease is held, does nothing."""
        now = self._clock()
        uuids = db.session.scalars(
            select(Resource.uuid).where(
                Resource.state == ResourceState.PROVISIONED,
                Resource.next_tick_at < now - self._tick_grace,
                or_(Resource.lease_expires_at.is_(None), Resource.lease_expires_at < now),
            )
        ).all()
        db.session.rollback()
        for uuid in uuids:
            self._scheduler.enqueue_tick(uuid, 0.0)
            report.ticks_redriven.append(uuid)

    def _abandon_stale_sync_provisions(self, report: ReconcileReport) -> None:
        """A synchronous provision whose web process died: clean up, so a retry starts afresh."""
        cutoff = self._clock() - self._stuck_after
        rows = db.session.scalars(
            select(Resource).where(
                Resource.state == ResourceState.PROVISIONING,
                Resource.is_async.is_(False),
                Resource.updated_at < cutoff,
            )
        ).all()
        for resource in rows:
            if self._registry.get(resource.addon.slug) is None:
                continue
            if not self._lifecycle.undo(resource):  # down: report it, go on with the others
                report.unreachable.append(resource.addon.slug)
                continue
            self._lifecycle.mark_provision_failed(
                resource, "Provisioning was interrupted; it was cleaned up."
            )
            report.abandoned.append(resource.uuid)
        db.session.commit()

    @staticmethod
    def _live_resources(slug: str) -> list[Resource]:
        return list(
            db.session.scalars(
                select(Resource)
                .join(Resource.addon)
                .where(Resource.state != ResourceState.DEPROVISIONED, Addon.slug == slug)
            )
        )

    def _find_orphans(self, report: ReconcileReport) -> None:
        for adapter in self._registry:
            if not isinstance(adapter, Reconciliation):
                continue
            slug = adapter.spec.slug
            try:
                # Backend first, store second: a resource's row is committed before its
                # first object exists, so every object listed here has a row by the time the
                # store is read. The other order would take an object that a provision made
                # between the two reads for an orphan, and remove it.
                owned = set(adapter.owned())
                db.session.commit()  # end any read snapshot: see the rows committed since
                expected: set[BackendObject] = set()
                for resource in self._live_resources(slug):
                    expected |= adapter.objects_of(self._lifecycle.ref(resource, links=False))
                orphans = sorted(owned - expected)
                report.orphans[slug] = [str(orphan) for orphan in orphans]
                if self._remove_orphans:
                    for orphan in orphans:
                        adapter.remove_orphan(orphan)
                        report.removed.append(str(orphan))
            except AdapterError:  # down, or refusing: report it and go on with the others
                report.unreachable.append(slug)
