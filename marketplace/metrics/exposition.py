"""``GET /metrics``: what it serves, and the multiprocess directory's housekeeping.

Two modes, chosen by the Prometheus client when it is first imported:

* one process (``flask run``, tests): the instruments live in this process's memory;
* multiprocess (``PROMETHEUS_MULTIPROC_DIR`` set in the environment before start, as the
  Procfile does for gunicorn and the worker): every process writes its instruments to its own
  files in that directory, and a scrape of any web process sums the files of all of them,
  gunicorn's workers and the job worker alike (when they share the host and the directory).

The directory is emptied at start (:func:`prepare_multiprocess_dir`, called by the gunicorn
master and the worker command) unless another live process of the deployment still writes
there; gunicorn's ``child_exit`` hook removes a dead worker's live gauges
(:func:`mark_process_dead`), its counters stay in the sums.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.multiprocess import mark_process_dead as _mark_dead
from prometheus_client.registry import Collector, CollectorRegistry

from marketplace.metrics.collectors import HealthCache, ScrapeCollector

log = logging.getLogger(__name__)

EXTENSION_KEY = "marketplace_metrics"
_PID_FILE = re.compile(r"_(\d+)\.db$")


class _Forward(Collector):
    """This process's instruments (the client's default registry) inside another registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess_mode() -> bool:
    """Whether the Prometheus client writes instruments to per-process files."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def init_exposition(app: Flask) -> None:
    """Build the app's scrape registry: instruments (this process's, or every process's
    files) plus the scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    directory = str(app.config.get("PROMETHEUS_MULTIPROC_DIR") or "")
    if multiprocess_mode() and directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        if directory:
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR was set after the metrics library loaded: "
                "serving this process's metrics only"
            )
        registry.register(_Forward())
    health = HealthCache()
    registry.register(ScrapeCollector(app, health))
    app.extensions[EXTENSION_KEY] = (registry, health)


def health_cache(app: Flask) -> HealthCache:
    """The app's backend health cache (``/readyz`` keeps it fresh)."""
    health: HealthCache = app.extensions[EXTENSION_KEY][1]
    return health


def render(app: Flask) -> tuple[bytes, str]:
    """The exposition body and its content type."""
    registry: CollectorRegistry = app.extensions[EXTENSION_KEY][0]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir(directory: str) -> int:
    """Create the directory and, unless another live process writes there, remove what
    processes of an earlier run left; return how many files were removed.

    A live process's files are never removed: its counters (and those of the dead processes
    summed with them) keep going up, so Prometheus sees no reset.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    owners = {f: _owner(f) for f in path.glob("*.db")}
    if any(pid is not None and pid != me and _alive(pid) for pid in owners.values()):
        return 0
    removed = 0
    for file, pid in owners.items():
        if pid != me:
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def mark_process_dead(pid: int, directory: str) -> None:
    """Drop a dead process's live gauges (gunicorn's ``child_exit`` hook calls this)."""
    _mark_dead(pid, directory)  # type: ignore[no-untyped-call]


def _owner(file: Path) -> int | None:
    match = _PID_FILE.search(file.name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
