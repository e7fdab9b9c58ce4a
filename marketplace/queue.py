"""The job queues (Huey) and the jobs they run.

``QUEUE_URL`` picks the storage: ``sqlite:///path`` (one machine, the default),
``postgresql://…`` or ``redis://…`` (workers on many hosts). Huey delivers at most once, so
jobs only drive state that lives in the database, and the periodic reconciler re-drives
anything a lost job left behind.

Two queues share that storage: ``<QUEUE_NAME>`` (provisioning steps, removals, the
reconciler, usage sampling) and ``<QUEUE_NAME>-ticks`` (background ticks). Each has its own
consumer threads in the worker, so hundreds of ticking resources never delay a provision: a
Huey queue is first in, first out, and one queue would put a new provision behind every tick
already waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)

QUEUE_NAME = "marketplace"
TICK_QUEUE_NAME = "marketplace-ticks"


def build_huey(queue_url: str, name: str = QUEUE_NAME) -> Huey:
    """Create the Huey instance called ``name`` on ``queue_url``'s storage.

    :raises ValueError: an unsupported scheme.
    """
    if queue_url.startswith("sqlite:///"):
        path = queue_url.removeprefix("sqlite:///")
        return SqliteHuey(name, filename=path, timeout=30, results=False)
    if queue_url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        dsn = "postgresql://" + queue_url.split("://", 1)[1]
        return PostgresHuey(name, dsn=dsn, results=False)
    if queue_url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=queue_url, results=False)
    raise ValueError(f"QUEUE_URL must be sqlite:///, postgresql:// or redis://, not {queue_url!r}")


@dataclass(frozen=True)
class JobHandlers:
    """What the jobs call, inside an app context (see ``marketplace.services.jobs``)."""

    drive: Callable[[str], str]
    tick: Callable[[str], str]
    reconcile: Callable[[], object]
    sample_usage: Callable[[], object] | None = None


@dataclass(frozen=True)
class QueueStats:
    """One queue at one instant: jobs waiting (``depth``), jobs scheduled for later, and how
    long the oldest waiting job has been due (seconds; 0 when none waits or none says)."""

    name: str
    depth: int
    scheduled: int
    oldest_age_seconds: float


class JobQueue:
    """The broker's jobs on two Huey queues, bound to ``app`` for their app context."""

    def __init__(
        self, queue_url: str, app: Flask, config: Mapping[str, Any], handlers: JobHandlers
    ) -> None:
        name = str(config.get("QUEUE_NAME") or QUEUE_NAME)
        self.huey = build_huey(queue_url, name)
        self.tick_huey = build_huey(queue_url, f"{name}-ticks")

        # Jobs carry the time they were queued (Unix seconds), for the queue-age metric.
        def drive(uuid: str, enqueued_at: float | None = None) -> Any:
            return _in_context(app, "drive", handlers.drive, uuid)

        def tick(uuid: str, enqueued_at: float | None = None) -> Any:
            return _in_context(app, "tick", handlers.tick, uuid)

        self._drive = self.huey.task(name="drive_resource")(drive)
        self._tick = self.tick_huey.task(name="tick_resource")(tick)
        self._reconcile = self.huey.periodic_task(
            _every(config["RECONCILE_INTERVAL_MINUTES"]), name="reconcile"
        )(lambda: _in_context(app, "reconcile", handlers.reconcile))
        sample_every = int(config.get("USAGE_SAMPLE_INTERVAL_MINUTES") or 0)
        if handlers.sample_usage is not None and sample_every > 0:
            sample = handlers.sample_usage
            self._sample_usage = self.huey.periodic_task(
                _every(sample_every), name="sample_usage"
            )(lambda: _in_context(app, "sample usage", sample))

    def enqueue_drive(self, uuid: str, delay: float = 0.0) -> None:
        """Drive the resource's pending asynchronous work, now or after ``delay`` seconds."""
        if delay > 0:
            self._drive.schedule(args=(uuid,), kwargs={"enqueued_at": time.time()}, delay=delay)
        else:
            self._drive(uuid, enqueued_at=time.time())

    def enqueue_tick(self, uuid: str, delay: float = 0.0) -> None:
        """Run the resource's background tick, now or after ``delay`` seconds."""
        if delay > 0:
            self._tick.schedule(args=(uuid,), kwargs={"enqueued_at": time.time()}, delay=delay)
        else:
            self._tick(uuid, enqueued_at=time.time())

    def stats(self, now: float | None = None) -> list[QueueStats]:
        """Depth, scheduled count and oldest job age of both queues: a few cheap storage
        reads (two counts and a peek at the head of each queue)."""
        now = time.time() if now is None else now
        return [_stats(huey, now) for huey in (self.huey, self.tick_huey)]

    def close(self) -> None:
        """Close both queues' storage connections."""
        for huey in (self.huey, self.tick_huey):
            huey.storage.close()


def _every(minutes: object) -> Callable[..., bool]:
    """A crontab that fires every ``minutes`` (1 to 60) minutes."""
    schedule: Callable[..., bool] = crontab(minute=f"*/{min(max(int(str(minutes)), 1), 60)}")
    return schedule


def _stats(huey: Huey, now: float) -> QueueStats:
    """:class:`QueueStats` of one Huey queue. The head's age is how long it has been due:
    since its ``eta`` for a job that was scheduled, else since it was queued; periodic jobs
    carry no time, so the first few jobs are looked at. Huey puts a job scheduled for later
    in the queue until a consumer moves it to its schedule, so ``depth`` counts those too."""
    age = 0.0
    for data in huey.storage.enqueued_items(5):
        message = huey.serializer.deserialize(data)
        queued = (message.kwargs or {}).get("enqueued_at")
        eta = _unix(message.eta, utc=huey.utc) if message.eta is not None else None
        due = max(t for t in (queued, eta) if t is not None) if (queued or eta) else None
        if due is not None and due <= now:  # a job scheduled for later is not waiting yet
            age = now - float(due)
            break
    return QueueStats(huey.name, huey.pending_count(), huey.scheduled_count(), age)


def _unix(moment: datetime, *, utc: bool) -> float:
    """Unix seconds of a Huey ``eta`` (naive: UTC when the Huey instance is, else local)."""
    return moment.replace(tzinfo=UTC).timestamp() if utc and moment.tzinfo is None else (
        moment.timestamp()
    )


def _in_context(app: Flask, what: str, handler: Callable[..., Any], *args: str) -> Any:
    with app.app_context():
        outcome = handler(*args)
    if args:
        log.info("%s %s: %s", what, args[0], outcome)
    return outcome
