"""Partner API operations, asynchronous steps, reconciler runs and SSO logins, as counted
by the code that performs them (each call site is one line)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from marketplace.metrics.backend import backend_timer
from marketplace.metrics.instruments import (
    ASYNC_DRIVES,
    ASYNC_RETRIES,
    ASYNC_STEPS,
    PARTNER_BACKEND_DURATION,
    PARTNER_DURATION,
    PARTNER_OPERATIONS,
    RECONCILER_DURATION,
    RECONCILER_ORPHANS_FOUND,
    RECONCILER_ORPHANS_REMOVED,
    RECONCILER_REDRIVEN,
    RECONCILER_RUNS,
    SSO_LOGINS,
)


class Operation:
    """One Partner API operation being observed; the caller names its ``outcome``."""

    def __init__(self) -> None:
        self.outcome = "ok"

    def succeeded(self, result: object) -> None:
        """Name the outcome after the service's domain result (``Provisioned`` ->
        ``provisioned``, ``RemovalAccepted`` -> ``removal_accepted``)."""
        name = type(result).__name__
        self.outcome = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@contextmanager
def partner_operation(addon: str, operation: str) -> Iterator[Operation]:
    """Count and time one Partner API operation, and the part spent in the backend.

    An error raised inside names the outcome by its code (``conflict``, ``gone``,
    ``service_unavailable``...), or ``error`` when it has none.
    """
    observed = Operation()
    started = time.perf_counter()
    with backend_timer() as backend:
        try:
            yield observed
        except Exception as error:
            observed.outcome = str(getattr(error, "code", "error"))
            raise
        finally:
            PARTNER_OPERATIONS.labels(addon, operation, observed.outcome).inc()
            PARTNER_DURATION.labels(addon, operation).observe(time.perf_counter() - started)
            PARTNER_BACKEND_DURATION.labels(addon, operation).observe(backend.seconds)


def async_step(resource: Any, outcome: str) -> None:
    """Count the resource's current asynchronous step as ``done``, ``retry`` or ``failed``
    (``resource`` is a :class:`~marketplace.models.Resource`)."""
    addon = resource.addon.slug if resource.addon is not None else "unknown"
    step = resource.step or "none"
    ASYNC_STEPS.labels(addon, step, outcome).inc()
    if outcome == "retry":
        ASYNC_RETRIES.labels(addon, step).inc()


def async_drive(outcome: str) -> None:
    """Count one worker job's drive of a resource by what it returned."""
    ASYNC_DRIVES.labels(outcome).inc()


@contextmanager
def reconciler_run() -> Iterator[None]:
    """Count and time one reconciler run."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except Exception:
        outcome = "error"
        raise
    finally:
        RECONCILER_RUNS.labels(outcome).inc()
        RECONCILER_DURATION.labels(outcome).observe(time.perf_counter() - started)


def reconciler_report(report: Any) -> None:
    """Count what a :class:`~marketplace.services.reconciler.ReconcileReport` says."""
    for addon, orphans in report.orphans.items():
        if orphans:
            RECONCILER_ORPHANS_FOUND.labels(addon).inc(len(orphans))
    for removed in report.removed:
        RECONCILER_ORPHANS_REMOVED.labels(_addon_of_orphan(report, removed)).inc()
    for kind, items in (
        ("drive", report.redriven),
        ("tick", report.ticks_redriven),
        ("abandoned", report.abandoned),
    ):
        if items:
            RECONCILER_REDRIVEN.labels(kind).inc(len(items))


def sso_login(outcome: str) -> None:
    """Count one SSO attempt: ``ok``, or the reason it was refused."""
    SSO_LOGINS.labels(outcome).inc()


def _addon_of_orphan(report: Any, orphan: str) -> str:
    return next((addon for addon, found in report.orphans.items() if orphan in found), "unknown")
