"""Usage samples: what each metered adapter reports for the provisioned resources, recorded
by the worker every ``USAGE_SAMPLE_INTERVAL_MINUTES`` (one ``sample`` usage record per metric;
see :mod:`marketplace.services.usage` for how they are read).

Resources are read a page at a time (:data:`PAGE_SIZE`, in id order). A page's adapter calls
run on a pool of :data:`SAMPLE_THREADS` threads with no store transaction open, then the
page's records are written in one commit. So a slow tenant or backend (up to its adapter's
timeouts) delays only its own resources' samples, not every other tenant's, and no read
snapshot of the store is held across backend calls.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from marketplace.adapters import AdapterError, Metering, ResourceRef, Usage
from marketplace.extensions import db
from marketplace.metrics.instruments import USAGE_SAMPLES
from marketplace.models import Resource, ResourceState, UsageRecord
from marketplace.models._types import utcnow
from marketplace.models.usage import SAMPLE
from marketplace.services.lifecycle import Lifecycle

log = logging.getLogger(__name__)

PAGE_SIZE = 200
SAMPLE_THREADS = 8


@dataclass(frozen=True)
class _Metered:
    """One resource to sample: what its records need, read before the backend calls."""

    uuid: str
    addon: str
    plan: str
    meter: Metering
    ref: ResourceRef


def sample_usage(lifecycle: Lifecycle) -> int:
    """Record one sample per metric of every provisioned resource whose adapter meters it;
    return how many were written. A backend that is down, or an adapter that fails in any other
    way, skips its resources (counted, and the second logged); the others are still sampled.
    Every record of one run carries the same ``occurred_at`` (the run's start, UTC)."""
    now = utcnow()
    written = 0
    after = ""
    with ThreadPoolExecutor(SAMPLE_THREADS, thread_name_prefix="usage-sample") as pool:
        while True:
            page, last = _read_page(lifecycle, after)
            if last == after:  # no resource after the previous page
                db.session.commit()
                return written
            after = last
            db.session.commit()  # no snapshot held while the backends are asked
            calls = [(metered, pool.submit(metered.meter.usage, metered.ref)) for metered in page]
            written += _record(calls, now)
            db.session.commit()


def _read_page(lifecycle: Lifecycle, after: str) -> tuple[list[_Metered], str]:
    """The metered resources among the next :data:`PAGE_SIZE` provisioned ones after id
    ``after``, and the last id read (the next page starts after it)."""
    resources: Sequence[Resource] = db.session.scalars(
        select(Resource)
        .where(Resource.state == ResourceState.PROVISIONED, Resource.id > after)
        .order_by(Resource.id)
        .limit(PAGE_SIZE)
    ).all()
    page: list[_Metered] = []
    for resource in resources:
        adapter = lifecycle.registry.get(resource.addon.slug)
        if isinstance(adapter, Metering):
            ref = lifecycle.ref(resource)
            page.append(
                _Metered(resource.uuid, resource.addon.slug, resource.plan.slug, adapter, ref)
            )
    return page, resources[-1].id if resources else after


def _record(calls: list[tuple[_Metered, Future[Usage]]], now: datetime) -> int:
    """Add the records of each finished call to the session; return how many."""
    written = 0
    for metered, call in calls:
        try:
            usage = call.result()
        except AdapterError as error:
            USAGE_SAMPLES.labels(metered.addon, "unavailable").inc()
            log.warning("usage not sampled for %s: %s", metered.uuid, error.message)
            continue
        except Exception:  # an adapter's bug must not cost every other resource its sample
            USAGE_SAMPLES.labels(metered.addon, "failed").inc()
            log.exception("usage sampling failed for %s", metered.uuid)
            continue
        for metric in usage.metrics:
            db.session.add(
                UsageRecord(
                    resource_uuid=metered.uuid,
                    addon=metered.addon,
                    plan=metered.plan,
                    kind=SAMPLE,
                    occurred_at=now,
                    metric=metric.name,
                    value=float(metric.value),
                    unit=metric.unit or None,
                    limit=float(metric.limit) if metric.limit is not None else None,
                )
            )
            written += 1
        USAGE_SAMPLES.labels(metered.addon, "ok").inc()
    return written
