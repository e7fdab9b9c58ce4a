"""Background work: the worker ticks resources whose adapter has the background capability.

A tick is one short, resumable step (Connect's sync engine polls, writes, archives). The
resource row is the durable truth: ``next_tick_at`` says when the next tick is due. A tick

* runs only under the resource's lease (one worker at a time), and only when due, so a
  duplicate job (the reconciler re-drives ticks whose job was lost) does nothing;
* hands the adapter its private state and stores the state the tick returns, with a write
  that only lands while this worker still holds the lease (a link removal breaks it);
* never raises into the queue: a failing adapter is retried with backoff.

Ticks run on their own Huey queue with their own consumer threads, so however many resources
tick, provisioning jobs never wait behind them.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from sqlalchemy import select, update

from marketplace.adapters import AdapterError, BackendUnavailable, Background, TickResult
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import as_utc, utcnow
from marketplace.services import events, leases
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.scheduling import Scheduler

log = logging.getLogger(__name__)

#: Upper bound on a tick's own delay, so a resource is looked at at least this often.
MAX_TICK_DELAY_SECONDS = 3600.0


@dataclass(frozen=True)
class TickSettings:
    """Lease length, backoff after a failing tick (seconds), and how soon a tick that found
    the lease held looks again (``retry_base_seconds``)."""

    lease: timedelta = timedelta(minutes=5)
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0


class Ticker:
    """Runs one resource's due tick."""

    # Consecutive failures per resource in this process: only paces retries, so losing it
    # on a restart costs nothing but an early retry.
    _failures: ClassVar[dict[str, int]] = {}

    def __init__(
        self,
        lifecycle: Lifecycle,
        scheduler: Scheduler,
        settings: TickSettings,
        worker_id: str | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._scheduler = scheduler
        self._settings = settings
        self._worker_id = worker_id or f"tick-{uuid_module.uuid4().hex}"

    def tick(self, uuid: str) -> str:
        """Run the resource's tick if it is due; return what happened (for logs and tests)."""
        due = db.session.scalar(
            select(Resource.next_tick_at).where(
                Resource.uuid == uuid, Resource.state == ResourceState.PROVISIONED
            )
        )
        db.session.rollback()
        if due is None:
            return "idle"
        if as_utc(due) > utcnow():
            return "not due"
        if not leases.claim(uuid, self._worker_id, self._settings.lease):
            # Someone else works on the resource (a web request, another tick): look again
            # soon rather than wait for the reconciler. A tick that ran meanwhile makes this
            # one "not due", which ends the retries.
            self._scheduler.enqueue_tick(uuid, self._settings.retry_base_seconds)
            return "busy"
        next_delay: float | None = None
        try:
            outcome, next_delay = self._run(uuid)
            return outcome
        finally:
            leases.release(uuid, self._worker_id)
            if next_delay is not None:
                self._scheduler.enqueue_tick(uuid, next_delay)

    def _run(self, uuid: str) -> tuple[str, float | None]:
        resource = db.session.scalar(
            select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
        )
        if resource is None or resource.state != ResourceState.PROVISIONED:
            return "idle", None
        if resource.next_tick_at is None or as_utc(resource.next_tick_at) > utcnow():
            # A duplicate job that passed the due check while another worker ticked.
            return "not due", None
        adapter = self._lifecycle.adapter(resource)
        if not isinstance(adapter, Background):
            self._write(uuid, TickResult(None))
            return "idle", None
        ref = self._lifecycle.ref(resource)
        seen = resource.adapter_state_encrypted
        db.session.rollback()  # no transaction stays open while the adapter works
        try:
            result = adapter.tick(ref)
        except AdapterError as error:
            delay = self._backoff(uuid)
            log.warning(
                "tick failed",
                extra={"resource": uuid, "error": error.message, "retry_in": delay},
            )
            self._write(uuid, TickResult(delay), error.message)
            kind = "backend down" if isinstance(error, BackendUnavailable) else "error"
            return kind, delay
        except Exception:
            delay = self._backoff(uuid)
            log.exception("tick crashed", extra={"resource": uuid, "retry_in": delay})
            self._write(uuid, TickResult(delay))
            return "crashed", delay
        self._failures.pop(uuid, None)
        next_delay: float | None = result.next_in_seconds
        if next_delay is not None:
            next_delay = min(max(next_delay, 0.0), MAX_TICK_DELAY_SECONDS)
        if not self._write(uuid, TickResult(next_delay, result.state), seen=seen):
            if result.state is not None and self._write(uuid, TickResult(0.0)):
                # An action changed the state while the tick ran (new tokens, a mapping,
                # pause): the tick's state is stale, so it is dropped and the next tick
                # starts from the action's. Ticks are safe to repeat.
                return "state changed", 0.0
            return "lease lost", None
        events.emit_all(resource, result.events, commit=True)
        return "ticked", next_delay

    def _write(
        self,
        uuid: str,
        result: TickResult,
        error: str | None = None,
        seen: str | None = None,
    ) -> bool:
        """Store the tick's outcome if this worker still holds the lease (and, when the tick
        returned state, only if nobody replaced the state it started from)."""
        values: dict[str, object] = {
            "next_tick_at": (
                utcnow() + timedelta(seconds=result.next_in_seconds)
                if result.next_in_seconds is not None
                else None
            ),
        }
        if result.state is not None:
            values["adapter_state_encrypted"] = self._lifecycle.encrypt_state(result.state)
        if error is not None:
            values["last_error"] = error
        conditions = [
            Resource.uuid == uuid,
            Resource.lease_owner == self._worker_id,
            Resource.state == ResourceState.PROVISIONED,
        ]
        if result.state is not None:
            conditions.append(
                Resource.adapter_state_encrypted.is_(None)
                if seen is None
                else Resource.adapter_state_encrypted == seen
            )
        written = db.session.execute(
            update(Resource)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return bool(written.rowcount == 1)  # type: ignore[attr-defined]

    def _backoff(self, uuid: str) -> float:
        failures = self._failures.get(uuid, 0) + 1
        self._failures[uuid] = failures
        return min(
            self._settings.retry_base_seconds * float(2 ** (failures - 1)),
            self._settings.retry_max_seconds,
        )
