"""Gauges read at scrape time, from state every process shares: the job queues' storage,
the store's resource rows, and the backends' health.

They are computed when ``GET /metrics`` runs, not kept in per-process files, so every web
process answers the same figures: two counts and a peek per queue, one ``GROUP BY`` over
the resources, and the backends' checks (cached for :data:`HEALTH_TTL_SECONDS`, and
refreshed by every ``/readyz``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from marketplace.context import broker
from marketplace.extensions import db
from marketplace.models import Addon, Resource
from marketplace.services.health import Check, readiness

log = logging.getLogger(__name__)

#: How long (seconds) a backend check stays fresh for the ``marketplace_backend_up`` gauge.
HEALTH_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class _Health:
    checks: tuple[Check, ...]
    at: float


class HealthCache:
    """The latest readiness checks of this process, with the time they ran (monotonic)."""

    def __init__(self, ttl: float = HEALTH_TTL_SECONDS) -> None:
        self._ttl = ttl
        self._latest: _Health | None = None
        self._lock = threading.Lock()

    def record(self, checks: Iterable[Check]) -> None:
        """Keep ``checks`` (``/readyz`` hands over what it just found)."""
        with self._lock:
            self._latest = _Health(tuple(checks), time.monotonic())

    def current(self) -> tuple[Check, ...]:
        """Fresh checks: the cached ones, or new ones when they are older than the TTL."""
        with self._lock:
            latest = self._latest
        if latest is None or time.monotonic() - latest.at > self._ttl:
            self.record(readiness(broker().registry))
            with self._lock:
                latest = self._latest
        assert latest is not None
        return latest.checks


class ScrapeCollector(Collector):
    """Queue depth and age, resources by add-on and state, and backend health."""

    def __init__(self, app: Flask, health: HealthCache) -> None:
        self._app = app
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._app.app_context():
            try:
                yield from self._queues()
                yield from self._resources()
                yield from self._backends()
            finally:
                db.session.remove()

    def _queues(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "marketplace_queue_depth", "Jobs waiting in each job queue.", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "marketplace_queue_scheduled",
            "Jobs scheduled for later (retries, next ticks) in each queue.",
            labels=["queue"],
        )
        age = GaugeMetricFamily(
            "marketplace_queue_oldest_job_age_seconds",
            "How long the oldest waiting job of each queue has been due (0 when none waits).",
            labels=["queue"],
        )
        try:
            stats = broker().queue.stats()
        except Exception:  # a queue store that is down must not break the whole scrape
            log.warning("queue statistics unavailable", exc_info=True)
            stats = []
        for queue in stats:
            depth.add_metric([queue.name], queue.depth)
            scheduled.add_metric([queue.name], queue.scheduled)
            age.add_metric([queue.name], queue.oldest_age_seconds)
        yield from (depth, scheduled, age)

    def _resources(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "marketplace_resources",
            "Resources in the store by add-on and state.",
            labels=["addon", "state"],
        )
        try:
            rows = db.session.execute(
                select(Addon.slug, Resource.state, func.count(Resource.id))
                .join(Addon, Addon.id == Resource.addon_id)
                .group_by(Addon.slug, Resource.state)
            ).all()
        except SQLAlchemyError:
            log.warning("resource counts unavailable", exc_info=True)
            rows = []
        for slug, state, count in rows:
            family.add_metric([slug, str(state)], count)
        yield family

    def _backends(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "marketplace_backend_up",
            "1 when the backend answered its latest check (the store, and each add-on's).",
            labels=["backend"],
        )
        for check in self._health.current():
            family.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield family
