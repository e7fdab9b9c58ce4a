"""The job queues (Huey) and the jobs they run.

``QUEUE_URL`` picks the storage: ``sqlite:///path`` (one machine, the default),
``postgresql://…`` or ``redis://…`` (workers on many hosts). Huey delivers at most once, so
jobs only drive state that lives in the database, and the periodic reconciler re-drives
anything a lost job left behind.

Two queues share that storage: ``marketplace`` (provisioning steps, removals, the reconciler)
and ``marketplace-ticks`` (background ticks). Each has its own consumer threads in the worker,
so hundreds of ticking resources never delay a provision: a Huey queue is first in, first
out, and one queue would put a new provision behind every tick already waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


class JobQueue:
    """The broker's jobs on two Huey queues, bound to ``app`` for their app context."""

    def __init__(
        self, queue_url: str, app: Flask, config: Mapping[str, Any], handlers: JobHandlers
    ) -> None:
        self.huey = build_huey(queue_url, QUEUE_NAME)
        self.tick_huey = build_huey(queue_url, TICK_QUEUE_NAME)
        self._drive = self.huey.task(name="drive_resource")(
            lambda uuid: _in_context(app, "drive", handlers.drive, uuid)
        )
        self._tick = self.tick_huey.task(name="tick_resource")(
            lambda uuid: _in_context(app, "tick", handlers.tick, uuid)
        )
        self._reconcile = self.huey.periodic_task(
            crontab(minute=f"*/{max(int(config['RECONCILE_INTERVAL_MINUTES']), 1)}"),
            name="reconcile",
        )(lambda: _in_context(app, "reconcile", handlers.reconcile))

    def enqueue_drive(self, uuid: str, delay: float = 0.0) -> None:
        """Drive the resource's pending asynchronous work, now or after ``delay`` seconds."""
        if delay > 0:
            self._drive.schedule(args=(uuid,), delay=delay)
        else:
            self._drive(uuid)

    def enqueue_tick(self, uuid: str, delay: float = 0.0) -> None:
        """Run the resource's background tick, now or after ``delay`` seconds."""
        if delay > 0:
            self._tick.schedule(args=(uuid,), delay=delay)
        else:
            self._tick(uuid)

    def close(self) -> None:
        """Close both queues' storage connections."""
        for huey in (self.huey, self.tick_huey):
            huey.storage.close()


def _in_context(app: Flask, what: str, handler: Callable[..., Any], *args: str) -> Any:
    with app.app_context():
        outcome = handler(*args)
    if args:
        log.info("%s %s: %s", what, args[0], outcome)
    return outcome
