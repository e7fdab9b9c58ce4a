"""Entry points the queue's jobs call, inside an app context."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from marketplace.context import broker, lifecycle
from marketplace.metrics import async_drive, reconciler_report, reconciler_run
from marketplace.queue import JobHandlers
from marketplace.services.async_provisioning import AsyncDriver
from marketplace.services.background import Ticker, TickSettings
from marketplace.services.data_connectors import DataConnectorService
from marketplace.services.reconciler import Reconciler, ReconcileReport
from marketplace.services.usage_sampling import sample_usage


def driver() -> AsyncDriver:
    """An :class:`AsyncDriver` wired to the current app."""
    state = broker()
    return AsyncDriver(
        lifecycle(),
        state.vault,
        state.async_settings,
        state.queue.enqueue_drive,
        schedule_tick=state.queue.enqueue_tick,
    )


def drive_resource(uuid: str) -> str:
    """Drive one resource's pending asynchronous work."""
    outcome = driver().drive(uuid)
    async_drive(outcome)
    return outcome


def tick_resource(uuid: str) -> str:
    """Run one resource's due background tick."""
    state = broker()
    config = current_app.config
    settings = TickSettings(
        lease=timedelta(seconds=float(config["JOB_LEASE_SECONDS"])),
        retry_base_seconds=float(config["RETRY_BASE_SECONDS"]),
        retry_max_seconds=float(config["RETRY_MAX_SECONDS"]),
    )
    return Ticker(lifecycle(), state.queue, settings).tick(uuid)


def reconcile_once() -> ReconcileReport:
    """Run the reconciler once with the app's settings."""
    state = broker()
    config = current_app.config
    with reconciler_run():
        report = Reconciler(
            lifecycle(),
            state.queue,
            stuck_after_seconds=float(config["RECONCILE_STUCK_AFTER_SECONDS"]),
            remove_orphans=bool(config["RECONCILE_REMOVE_ORPHANS"]),
        ).run()
    reconciler_report(report)
    watch_data_connectors()
    return report


def watch_data_connectors() -> int:
    """Look at every live data connector, so a change the backends report (available ->
    error and back) is stored and reaches the app's log stream even when nobody reads the
    connector. Runs with the reconciler; returns how many connectors were looked at."""
    service = DataConnectorService(
        lifecycle(), int(current_app.config["CDC_MAX_PAUSED_LAG_BYTES"])
    )
    return len(service.all_views())


def sample_usage_once() -> int:
    """Record a usage sample of every metered resource; return how many were written."""
    return sample_usage(lifecycle())


HANDLERS = JobHandlers(
    drive=drive_resource,
    tick=tick_resource,
    reconcile=reconcile_once,
    sample_usage=sample_usage_once,
)
