"""The job queue (Huey) and the jobs it runs.

``QUEUE_URL`` picks the storage: ``sqlite:///path`` (one machine, the default),
``postgresql://…`` or ``redis://…`` (workers on many hosts). Huey delivers at most once, so
jobs only drive state that lives in the database, and the periodic reconciler re-drives
anything a lost job left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from huey import Huey, PostgresHuey, RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)

QUEUE_NAME = "marketplace"


def build_huey(queue_url: str) -> Huey:
    """Create the Huey instance for ``queue_url``.

    :raises ValueError: an unsupported scheme.
    """
    if queue_url.startswith("sqlite:///"):
        path = queue_url.removeprefix("sqlite:///")
        return SqliteHuey(QUEUE_NAME, filename=path, timeout=30, results=False)
    if queue_url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        dsn = "postgresql://" + queue_url.split("://", 1)[1]
        return PostgresHuey(QUEUE_NAME, dsn=dsn, results=False)
    if queue_url.startswith(("redis://", "rediss://")):
        return RedisHuey(QUEUE_NAME, url=queue_url, results=False)
    raise ValueError(f"QUEUE_URL must be sqlite:///, postgresql:// or redis://, not {queue_url!r}")


class JobQueue:
    """The broker's jobs on one Huey instance, bound to ``app`` for their app context."""

    def __init__(self, huey: Huey, app: Flask, config: Mapping[str, Any]) -> None:
        self.huey = huey
        self._drive = huey.task(name="drive_resource")(lambda uuid: _drive(app, uuid))
        self._reconcile = huey.periodic_task(
            crontab(minute=f"*/{max(int(config['RECONCILE_INTERVAL_MINUTES']), 1)}"),
            name="reconcile",
        )(lambda: _reconcile(app))

    def enqueue_drive(self, uuid: str, delay: float = 0.0) -> None:
        """Drive the resource's pending asynchronous work, now or after ``delay`` seconds."""
        if delay > 0:
            self._drive.schedule(args=(uuid,), delay=delay)
        else:
            self._drive(uuid)


def _drive(app: Flask, uuid: str) -> str:
    from marketplace.services.jobs import drive_resource

    with app.app_context():
        outcome = drive_resource(uuid)
    log.info("drive %s: %s", uuid, outcome)
    return outcome


def _reconcile(app: Flask) -> None:
    from marketplace.services.jobs import reconcile_once

    with app.app_context():
        reconcile_once()
