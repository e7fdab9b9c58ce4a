"""Asynchronous provisioning and removal, driven step by step by the worker.

A resource's row is the durable truth: ``step`` names the next step, and each step commits
before the next begins, so a killed worker resumes where it stopped. Steps of a provision:

1. ``authorize``: exchange the OAuth grant for tokens (once);
2. ``allocate``: create the backend objects through the adapter (idempotent);
3. ``configure``: ``PATCH /addons/<uuid>/config`` with the config vars;
4. ``activate``: ``POST /addons/<uuid>/actions/provision``.

A removal (state ``deprovisioning``) deletes the backend objects, then, for add-ons that
deprovision asynchronously, tells the platform. Transient failures are retried with
exponential backoff until the deadline; after it, or when the platform refuses for good
(:class:`~marketplace.services.platform_session.Refused`), the resource ends ``failed`` with
everything it created removed.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from marketplace.adapters import AdapterError, BackendUnavailable
from marketplace.extensions import db
from marketplace.metrics import async_step
from marketplace.models import Resource, ResourceState
from marketplace.models._types import as_utc, utcnow
from marketplace.services import events, leases
from marketplace.services.async_settings import AsyncSettings
from marketplace.services.crypto import Vault
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.platform_session import (
    NEVER_TOLD,
    PlatformSession,
    Refused,
    RetryLater,
)

log = logging.getLogger(__name__)

PROVISION_STEPS = ("authorize", "allocate", "configure", "activate")
CANCEL_STEP = "cancel"  # deprovision of a resource whose provisioning never finished
PUSH_CONFIG_STEP = "push-config"  # a provisioned resource's config changed (rotation)
DEPROVISION_STEP = "deprovision"  # asynchronous deprovision: tell the platform when done
FINISHED = object()  # what the last step returns once the resource is provisioned


Scheduler = Callable[[str, float], None]


class AsyncDriver:
    """Drives one resource's pending asynchronous work to its end (or its next retry)."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        vault: Vault,
        settings: AsyncSettings,
        schedule: Scheduler,
        worker_id: str | None = None,
        schedule_tick: Scheduler | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._vault = vault
        self._platform = PlatformSession(vault, settings)
        self._schedule_tick = schedule_tick
        self._settings = settings
        self._schedule = schedule
        self._worker_id = worker_id or uuid_module.uuid4().hex

    def exchange_grant_now(self, uuid: str) -> str:
        """Exchange the resource's OAuth grant right away (the web request does this, so the
        grant is used while valid whatever the worker's state); leave anything else, and any
        transient failure, to the worker. Returns what happened."""
        if not leases.claim(uuid, self._worker_id, self._settings.lease):
            return "busy"
        try:
            resource = _load(uuid)
            auth = resource.authorization if resource is not None else None
            if resource is None or auth is None or not auth.grant_code_encrypted:
                return "nothing to exchange"
            if resource.state == ResourceState.PROVISIONING and resource.step == PROVISION_STEPS[0]:
                self._authorize(resource)
                return "exchanged"
            if resource.state == ResourceState.PROVISIONED and not auth.exchanged:
                self._exchange_for_later(resource)
                return "exchanged"
            return "nothing to exchange"
        except RetryLater as error:
            self._record_retry(uuid, error)
            return "left to the worker"
        finally:
            leases.release(uuid, self._worker_id)

    def drive(self, uuid: str) -> str:
        """Run the resource's pending steps; return what happened (for logs and tests)."""
        if not leases.claim(uuid, self._worker_id, self._settings.lease):
            return "busy"
        delay: float | None = None
        try:
            return self._run(uuid)
        except RetryLater as retry:
            delay = self._record_retry(uuid, retry)
            return "retry"
        finally:
            leases.release(uuid, self._worker_id)
            if delay is not None:  # only once the lease is free, or the retry finds it busy
                self._schedule(uuid, delay)

    # --- the loop ---------------------------------------------------------------------------

    def _run(self, uuid: str) -> str:
        while True:
            resource = _load(uuid)
            if resource is None:
                return "missing"
            if resource.state == ResourceState.DEPROVISIONING:
                self._remove(resource)
                return "deprovisioned"
            if resource.state == ResourceState.PROVISIONED:
                return self._maintain(resource)
            if resource.state != ResourceState.PROVISIONING or not resource.is_async:
                return "idle"
            if resource.deadline_at and utcnow() > as_utc(resource.deadline_at):
                return self._past_deadline(resource)
            step = resource.step or PROVISION_STEPS[0]
            if getattr(self, f"_{step}")(resource) is FINISHED:
                return "provisioned"
            leases.claim(uuid, self._worker_id, self._settings.lease)  # renew between steps

    def _past_deadline(self, resource: Resource) -> str:
        """Never remove an add-on the platform considers live: ask it first."""
        state = self._platform.addon_state(resource)  # RetryLater: ask again later
        if state == "provisioned":
            return "provisioned" if self._finish(resource) is FINISHED else "idle"
        self._fail(resource, "Provisioning did not finish before its deadline.")
        return "failed"

    # --- provision steps --------------------------------------------------------------------

    def _authorize(self, resource: Resource) -> None:
        auth = resource.authorization
        if auth is None or auth.grant_code_encrypted is None:
            self._fail(resource, "The provision request carried no OAuth grant.")
            return
        refusal = self._platform.exchange_grant(resource)
        if refusal:
            self._fail(resource, refusal)
            return
        self._advance(resource, "allocate")

    def _allocate(self, resource: Resource) -> None:
        try:
            self._lifecycle.allocate(resource)
        except BackendUnavailable as error:
            db.session.rollback()  # the next try converges on what this one made
            raise RetryLater(error.message) from error
        except AdapterError as error:
            db.session.rollback()
            self._fail(_load_or_raise(resource.uuid), error.message)
            return
        self._advance(resource, "configure")

    def _configure(self, resource: Resource) -> None:
        config = self._vault.decrypt_mapping(resource.config_encrypted)
        try:
            self._platform.call(resource, lambda c, t: c.update_config(resource.uuid, config, t))
        except Refused as error:
            self._fail(resource, f"The platform refused the config vars ({error}).")
            return
        self._advance(resource, "activate")

    def _activate(self, resource: Resource) -> object | None:
        try:
            self._platform.call(resource, lambda c, t: c.mark_provisioned(resource.uuid, t))
        except (RetryLater, Refused) as error:
            # A lost answer (a timeout, then "already provisioned" on the retry) is success:
            # when unsure, the platform's own view decides.
            if self._platform.addon_state(resource) != "provisioned":
                if isinstance(error, Refused):
                    self._fail(resource, f"The platform refused to mark it provisioned ({error}).")
                    return None
                raise
        return self._finish(resource)

    def _finish(self, resource: Resource) -> object | None:
        """Move to ``provisioned`` (the platform has the add-on as provisioned)."""
        async_step(resource, "done")
        # Only from "provisioning": a DELETE may have cancelled the resource while the platform
        # was being told; then the loop reads "deprovisioning" and removes what exists.
        values = self._lifecycle.provisioned_values(resource)
        ticking = values["next_tick_at"] is not None
        finished = db.session.execute(
            update(Resource)
            .where(Resource.uuid == resource.uuid, Resource.state == ResourceState.PROVISIONING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            db.session.commit()
            return None
        # The plan period (billing) begins in the transaction that makes the resource
        # provisioned: a worker dying between two commits would leave it provisioned, unbilled.
        events.record(resource, "provisioned", state=ResourceState.PROVISIONED)
        db.session.commit()
        log.info("async provision complete", extra={"resource": resource.uuid})
        if ticking and self._schedule_tick is not None:
            self._schedule_tick(resource.uuid, 0.0)
        return FINISHED

    # --- a provisioned resource -------------------------------------------------------------

    def _maintain(self, resource: Resource) -> str:
        """Exchange a synchronous resource's grant (so later config changes can be pushed),
        and push the config after a change such as a credential rotation."""
        auth = resource.authorization
        if auth is not None and auth.grant_code_encrypted and not auth.exchanged:
            self._exchange_for_later(resource)
        if resource.step == PUSH_CONFIG_STEP:
            if resource.authorization is not None and resource.authorization.exchanged:
                config = self._vault.decrypt_mapping(resource.config_encrypted)
                try:
                    self._platform.call(
                        resource, lambda c, t: c.update_config(resource.uuid, config, t)
                    )
                except Refused as error:  # the same on every try: stop asking
                    log.warning(
                        "config change refused",
                        extra={"resource": resource.uuid, "error": str(error)},
                    )
                    resource.last_error = f"The platform refused the config vars ({error})."
                    self._advance(resource, None)
                    return "config refused"
            self._advance(resource, None)
            return "config pushed"
        return "idle"

    def _exchange_for_later(self, resource: Resource) -> None:
        refusal = self._platform.exchange_grant(resource)
        if refusal and resource.authorization is not None:
            # The resource works without it; only pushing config changes is lost.
            log.warning("grant not exchanged", extra={"resource": resource.uuid, "error": refusal})
            db.session.delete(resource.authorization)
        db.session.commit()

    # --- removal ----------------------------------------------------------------------------

    def _remove(self, resource: Resource) -> None:
        """Delete the backend objects; tell the platform when the add-on deprovisions async."""
        try:
            self._lifecycle.remove_backend(resource)
        except AdapterError as error:
            raise RetryLater(error.message) from error
        if resource.step == DEPROVISION_STEP:
            try:
                self._platform.call(resource, lambda c, t: c.mark_deprovisioned(resource.uuid, t))
            except Refused as error:  # for example a 404: the platform already forgot it
                log.warning(
                    "removal not reported", extra={"resource": resource.uuid, "error": str(error)}
                )
        self._lifecycle.forget(resource, ResourceState.DEPROVISIONED)
        db.session.commit()

    def _fail(self, resource: Resource, reason: str) -> None:
        """End in ``failed`` with every backend object removed, and tell the platform at once
        (the add-on is marked deprovisioned there) rather than let it wait for hours."""
        async_step(resource, "failed")
        try:
            self._lifecycle.remove_backend(resource)
        except AdapterError as error:
            raise RetryLater(error.message) from error
        if self._platform.addon_state_or_none(resource) not in (None, NEVER_TOLD, "gone"):
            try:
                self._platform.call(resource, lambda c, t: c.mark_deprovisioned(resource.uuid, t))
            except (RetryLater, Refused) as error:
                log.warning(
                    "could not report the failure",
                    extra={"resource": resource.uuid, "error": str(error)},
                )
        self._lifecycle.forget(resource, ResourceState.FAILED)
        resource.last_error = reason
        db.session.commit()
        log.warning("async provision failed", extra={"resource": resource.uuid, "reason": reason})

    def _advance(self, resource: Resource, step: str | None) -> None:
        async_step(resource, "done")
        resource.step = step
        db.session.commit()

    def _record_retry(self, uuid: str, retry: RetryLater) -> float:
        """Count the failed try and store when to try again: after the backoff, and no sooner
        than the platform asked. Returns the delay in seconds."""
        db.session.rollback()
        resource = _load(uuid)
        if resource is None:
            return 0.0
        async_step(resource, "retry")
        resource.attempts += 1
        resource.last_error = str(retry)
        delay = max(self._settings.backoff(resource.attempts), retry.not_before or 0.0)
        resource.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.commit()
        log.info("async step will be retried", extra={"resource": uuid, "delay": delay})
        return delay


def _load(uuid: str) -> Resource | None:
    return db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )


def _load_or_raise(uuid: str) -> Resource:
    resource = _load(uuid)
    if resource is None:
        raise RetryLater("the resource row disappeared")
    return resource
