"""Provision, change and remove resources: the Partner API's work, idempotent per uuid.

Concurrency: backend work for a resource runs under its lease (see
:func:`~marketplace.services.leases.request_lease`) and with no store transaction open:
duplicate requests for one uuid wait for the first and then read its outcome, and a slow
backend holds no lock any other resource needs, on SQLite or PostgreSQL.

The service answers with domain results (:class:`Provisioned`, :class:`Accepted`, ...); the
blueprint chooses the HTTP status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.adapters import AdapterError
from marketplace.errors import Conflict, Gone, NotFound, Unprocessable, from_adapter_error, quoted
from marketplace.extensions import db
from marketplace.models import Addon, Plan, PlatformAuthorization, Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services.async_provisioning import CANCEL_STEP, DEPROVISION_STEP, PROVISION_STEPS
from marketplace.services.crypto import Vault
from marketplace.services.leases import (
    REQUEST_LEASE,
    Lease,
    commit_under_lease,
    end_transaction_under_lease,
    new_owner,
    request_lease,
)
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.provisioning_outcomes import (
    Accepted,
    PlanChanged,
    ProvisionCommand,
    Provisioned,
    ProvisionOutcome,
    RemovalAccepted,
    RemovalOutcome,
    Removed,
)
from marketplace.services.regions import supported_region
from marketplace.services.scheduling import Scheduler

log = logging.getLogger(__name__)

_GONE_STATES = (ResourceState.DEPROVISIONING, ResourceState.DEPROVISIONED)


class Provisioner:
    """The provisioning service for one request: no Flask request in sight."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        vault: Vault,
        scheduler: Scheduler,
        async_deadline: timedelta = timedelta(hours=12),
        exchange_grant_now: Callable[[str], str] | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._vault = vault
        self._scheduler = scheduler
        self._async_deadline = async_deadline
        self._exchange_grant_now = exchange_grant_now or (lambda _uuid: "not tried")

    # --- provision --------------------------------------------------------------------------

    def provision(self, addon: Addon, command: ProvisionCommand) -> ProvisionOutcome:
        """Create the resource, or return the earlier answer for the same request.

        The backend work runs under the resource's lease with no store transaction open, so
        concurrent duplicates wait for the first and then read its answer, and a slow backend
        blocks nothing else.

        :raises Unprocessable: unknown or retired plan, or unsupported region (new uuids).
        :raises Conflict: the uuid exists with another add-on or another plan.
        :raises Gone: the uuid was deprovisioned.
        :raises ServiceUnavailable: the backend is down; nothing is left behind.
        """
        inserted: Resource | None = None
        if _load(command.uuid) is None:
            plan = _find_plan(addon, command.plan, public_only=True)
            region = supported_region(command.region, addon.regions)
            if region is None:
                raise Unprocessable(
                    f"Region {command.region!r} is not supported by {addon.slug}; "
                    f"supported: {', '.join(addon.regions)}."
                )
            inserted = self._insert_if_new(addon, plan, region, command, new_owner())
        if inserted is not None and not inserted.is_async:
            # The INSERT took the lease and recorded the intent: straight to the backend.
            with request_lease(command.uuid, held_by=inserted.lease_owner) as lease:
                self._provision_now(inserted, lease)
                return self._answer(inserted)
        resource = self._same_request(addon, command)
        if resource.is_async:
            return self._accept_async(resource, command, start=inserted is not None)
        if resource.state == ResourceState.PROVISIONED:
            return self._answer(resource)
        with request_lease(command.uuid) as lease:
            resource = self._same_request(addon, command)
            if resource.state != ResourceState.PROVISIONED:
                resource.state = ResourceState.PROVISIONING
                resource.attempts += 1
                db.session.commit()  # the intent is durable before the backend call
                self._provision_now(resource, lease)
            return self._answer(resource)

    def _answer(self, resource: Resource) -> Provisioned:
        outcome = Provisioned(
            resource.provider_id, self._lifecycle.config(resource), resource.message or ""
        )
        db.session.commit()
        return outcome

    def _same_request(self, addon: Addon, command: ProvisionCommand) -> Resource:
        """The stored resource, checked against the request (fresh from the store).

        A resource whose provision failed (nothing exists) takes the plan now asked for.
        """
        resource = _load(command.uuid)
        if resource is None:
            raise NotFound("No resource with this uuid.")
        if resource.addon_id != addon.id:
            db.session.rollback()
            raise Conflict("This uuid belongs to a resource of another add-on.")
        if resource.state in _GONE_STATES:
            db.session.rollback()
            raise Gone("This resource has been deprovisioned.")
        asked = command.plan.removeprefix(f"{addon.slug}:")
        if asked != resource.plan.slug:
            if resource.state == ResourceState.FAILED and not resource.is_async:
                plan = _find_plan(addon, command.plan, public_only=True)
                resource.plan_id, resource.plan = plan.id, plan
                db.session.commit()
                return resource
            db.session.rollback()
            raise Conflict(
                f"This uuid was provisioned on plan {resource.plan.slug}; change plans with "
                "PUT, or use a new uuid."
            )
        return resource

    def _insert_if_new(
        self, addon: Addon, plan: Plan, region: str, command: ProvisionCommand, owner: str
    ) -> Resource | None:
        """Insert the resource (a synchronous one holding ``owner``'s lease); None when a
        concurrent duplicate inserted it first."""
        # Asynchronous only when the platform gave us a way to report back (kensa does not).
        is_async = plan.is_async and command.grant_code is not None
        resource = Resource(
            uuid=command.uuid,
            addon_id=addon.id,
            plan_id=plan.id,
            name=command.name,
            region=region,
            callback_url=command.callback_url,
            options=dict(command.options),
            state=ResourceState.PROVISIONING,
            is_async=is_async,
            attempts=0 if is_async else 1,
            lease_owner=None if is_async else owner,
            lease_expires_at=None if is_async else utcnow() + REQUEST_LEASE,
            log_input_url_encrypted=self._vault.encrypt_optional(command.log_input_url),
            log_drain_token=command.log_drain_token,
        )
        resource.addon, resource.plan = addon, plan
        if is_async:
            self._start_async(resource, command)
        elif command.grant_code:  # kept to push later config changes (credential rotation)
            resource.authorization = PlatformAuthorization(
                grant_code_encrypted=self._vault.encrypt(command.grant_code),
                grant_expires_at=command.grant_expires_at,
            )
        else:
            resource.authorization = None  # known, so nothing asks the store later
        db.session.add(resource)
        try:
            if is_async:
                db.session.commit()
            else:
                commit_under_lease()  # the INSERT took the lease: what is loaded stays true
        except IntegrityError:  # a concurrent duplicate inserted it first
            db.session.rollback()
            return None
        return resource

    def _start_async(self, resource: Resource, command: ProvisionCommand) -> None:
        resource.step = PROVISION_STEPS[0]
        resource.deadline_at = utcnow() + self._async_deadline
        resource.next_attempt_at = None
        auth = resource.authorization or PlatformAuthorization()
        auth.grant_code_encrypted = self._vault.encrypt(command.grant_code or "")
        auth.grant_expires_at = command.grant_expires_at
        resource.authorization = auth

    def _accept_async(
        self, resource: Resource, command: ProvisionCommand, *, start: bool
    ) -> Accepted:
        """Answer 202; queue the work on first sight, or again for a resource that failed."""
        if resource.state == ResourceState.FAILED and command.grant_code:
            resource.state = ResourceState.PROVISIONING
            resource.attempts = 0
            resource.last_error = None
            self._start_async(resource, command)
            start = True
        db.session.commit()
        if start:
            # Used while valid, whatever the worker's state (the grant lasts minutes).
            self._exchange_grant_now(resource.uuid)
            self._scheduler.enqueue_drive(resource.uuid, 0.0)
        return Accepted(
            resource.provider_id,
            "Your add-on is being provisioned and will be available shortly.",
        )

    def _provision_now(self, resource: Resource, lease: Lease) -> None:
        """Run the adapter under ``lease`` (the intent is already committed); store the
        outcome and give the lease back in one commit.

        :raises MarketplaceError: the adapter failed; what it made was removed.
        :raises Exception: the adapter raised something unexpected (its bug, an unwrapped
            driver error): what it made was removed too, and the request answers 500.
        """
        request = self._lifecycle.provision_request(resource)
        end_transaction_under_lease()  # no transaction is open across the backend call
        try:
            result = self._lifecycle.adapter(resource).provision(request)
        except AdapterError as error:
            self._fail(resource, lease, error.message)
            log.warning(
                "provision failed", extra={"resource": resource.uuid, "error": error.message}
            )
            raise from_adapter_error(error) from error
        except Exception:
            # Not left for the reconciler's stuck-provision sweep: the platform's retry
            # would meet a held lease and the backend objects would outlive the failure.
            self._fail(resource, lease, "The add-on failed unexpectedly; it was cleaned up.")
            raise  # the error handlers log it without its message and answer 500
        self._lifecycle.store_provision(resource, result)
        self._lifecycle.mark_provisioned(resource)
        lease.clear(resource)
        ticking = resource.next_tick_at is not None
        grant = resource.authorization is not None
        commit_under_lease()  # gives the lease back; the answer reads what was just written
        if grant:
            self._exchange_grant_now(resource.uuid)  # while valid, whatever the worker's state
            self._scheduler.enqueue_drive(resource.uuid, 0.0)
        if ticking:
            self._scheduler.enqueue_tick(resource.uuid, 0.0)

    def _fail(self, resource: Resource, lease: Lease, reason: str) -> None:
        """Undo a failed synchronous provision, mark it ``failed`` with ``reason`` (shown to
        the customer) and give the lease back, in one commit."""
        self._lifecycle.undo(resource)  # nothing half-created stays behind
        self._lifecycle.mark_provision_failed(resource, reason)
        lease.clear(resource)
        db.session.commit()

    # --- plan change ------------------------------------------------------------------------

    def change_plan(self, addon: Addon, uuid: str, plan_slug: str) -> PlanChanged:
        """Move the resource to another plan (from any plan, retired ones included).

        :raises NotFound: unknown uuid. :raises Gone: deprovisioned.
        :raises Unprocessable: unknown plan, or the data does not fit it (nothing changed).
        :raises Conflict: the resource is not provisioned (yet).
        """
        self._existing(addon, uuid)
        with request_lease(uuid):
            resource = self._existing(addon, uuid)
            if resource.state != ResourceState.PROVISIONED:
                db.session.rollback()
                raise Conflict(
                    f"The resource is {resource.state}; try again once it is provisioned."
                )
            wanted = plan_slug.removeprefix(f"{addon.slug}:")
            if resource.plan.slug == wanted:
                db.session.rollback()
                return PlanChanged(f"Already on plan {wanted}.")
            new_plan = _find_plan(addon, plan_slug, public_only=True)
            try:
                change = self._lifecycle.change_plan(resource, new_plan)
            except AdapterError as error:
                db.session.rollback()
                raise from_adapter_error(error) from error
            db.session.commit()
            return PlanChanged(change.message, change.config)

    # --- deprovision ------------------------------------------------------------------------

    def deprovision(self, addon: Addon, uuid: str) -> RemovalOutcome:
        """Remove the resource's backend objects and forget its secrets.

        :raises Gone: already deprovisioned, or unknown (the Partner API answers 410 for
            both: the platform may finish its side of a removal the broker has no record of).
        :raises ServiceUnavailable: the backend is down; a retry finishes the job.
        """
        resource = self._existing(addon, uuid, allow_deprovisioning=True, unknown_is_gone=True)
        queued = self._queue_removal(resource)
        if queued is not None:
            return queued
        db.session.rollback()
        # Taking the lease records the durable intent in the same statement: a crash from
        # here on is re-driven by the reconciler, never revived.
        with request_lease(
            uuid,
            also={"state": ResourceState.DEPROVISIONING},
            check=lambda: self._existing(
                addon, uuid, allow_deprovisioning=True, unknown_is_gone=True
            ),
        ) as lease:
            resource = self._existing(addon, uuid, allow_deprovisioning=True, unknown_is_gone=True)
            try:
                self._lifecycle.remove_backend(resource)
            except AdapterError as error:
                db.session.rollback()
                resource.last_error = error.message
                db.session.commit()
                raise from_adapter_error(error) from error
            lease.clear(resource)
            resource.last_error = None
            self._lifecycle.forget(resource, ResourceState.DEPROVISIONED)
            db.session.commit()
        return Removed()

    def _queue_removal(self, resource: Resource) -> RemovalOutcome | None:
        """Hand the removal to the worker when it cannot (or should not) finish inline.

        A provision still running in a worker is cancelled (nothing usable exists); an add-on
        that deprovisions asynchronously is accepted and reported back later.
        """
        cancel = resource.is_async and resource.state == ResourceState.PROVISIONING
        report_back = (
            self._lifecycle.adapter(resource).spec.asynchronous_deprovision
            and resource.state == ResourceState.PROVISIONED
            and resource.authorization is not None
        )
        if not (cancel or report_back):
            return None
        resource.state = ResourceState.DEPROVISIONING
        resource.step = CANCEL_STEP if cancel else DEPROVISION_STEP
        db.session.commit()
        self._scheduler.enqueue_drive(resource.uuid, 0.0)
        if cancel:
            return Removed()
        return RemovalAccepted("Your add-on is being removed.")

    # --- shared -----------------------------------------------------------------------------

    def _existing(
        self,
        addon: Addon,
        uuid: str,
        *,
        allow_deprovisioning: bool = False,
        unknown_is_gone: bool = False,
    ) -> Resource:
        """The resource ``uuid`` of ``addon``, fresh from the store.

        :raises NotFound: unknown (or another add-on's), unless ``unknown_is_gone``.
        :raises Gone: deprovisioned (or unknown, with ``unknown_is_gone``).
        """
        resource = _load(uuid)
        if resource is None or resource.addon_id != addon.id:
            db.session.rollback()
            if unknown_is_gone:
                raise Gone("No resource with this uuid: there is nothing to deprovision.")
            raise NotFound("No resource with this uuid.")
        gone = resource.state == ResourceState.DEPROVISIONED or (
            resource.state == ResourceState.DEPROVISIONING and not allow_deprovisioning
        )
        if gone:
            db.session.rollback()
            raise Gone("This resource has been deprovisioned.")
        return resource


def _load(uuid: str) -> Resource | None:
    return db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )


def _find_plan(addon: Addon, slug: str, *, public_only: bool) -> Plan:
    name = slug.removeprefix(f"{addon.slug}:")
    plan = addon.plan(name)
    if plan is None or (public_only and plan.state != "public"):
        choices = ", ".join(p.slug for p in addon.plans if p.state == "public")
        raise Unprocessable(
            f"Unknown plan {quoted(slug)} for {addon.slug}; choose one of: {choices}."
        )
    return plan
