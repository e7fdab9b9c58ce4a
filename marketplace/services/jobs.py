"""Entry points the queue's jobs call, inside an app context."""

from __future__ import annotations

from flask import current_app

from marketplace.context import broker
from marketplace.services.async_provisioning import AsyncDriver
from marketplace.services.reconciler import Reconciler, ReconcileReport


def driver() -> AsyncDriver:
    """An :class:`AsyncDriver` wired to the current app."""
    state = broker()
    return AsyncDriver(state.registry, state.vault, state.async_settings, state.queue.enqueue_drive)


def drive_resource(uuid: str) -> str:
    """Drive one resource's pending asynchronous work."""
    return driver().drive(uuid)


def reconcile_once() -> ReconcileReport:
    """Run the reconciler once with the app's settings."""
    state = broker()
    config = current_app.config
    return Reconciler(
        state.registry,
        state.queue.enqueue_drive,
        stuck_after_seconds=float(config["RECONCILE_STUCK_AFTER_SECONDS"]),
        remove_orphans=bool(config["RECONCILE_REMOVE_ORPHANS"]),
    ).run()
