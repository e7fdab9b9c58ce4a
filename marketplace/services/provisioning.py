"""Provision, change and remove resources: the Partner API's work, idempotent per uuid.

Concurrency: each resource row is locked (see :func:`_lock`) while its backend work runs, so
duplicate requests for one uuid queue behind the first and then read its outcome. The lock is
a row lock on PostgreSQL and the database write lock on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.adapters import (
    AdapterError,
    AdapterRegistry,
    AddonAdapter,
    ProvisionRequest,
    ResourceRef,
)
from marketplace.errors import Conflict, Gone, NotFound, Unprocessable, from_adapter_error
from marketplace.extensions import db
from marketplace.models import Addon, Plan, PlatformAuthorization, Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services.async_provisioning import CANCEL_STEP, DEPROVISION_STEP, PROVISION_STEPS
from marketplace.services.crypto import Vault
from marketplace.services.leases import lock_resource
from marketplace.services.regions import supported_region

log = logging.getLogger(__name__)

_GONE_STATES = (ResourceState.DEPROVISIONING, ResourceState.DEPROVISIONED)


@dataclass(frozen=True)
class ProvisionCommand:
    """A parsed provision request."""

    uuid: str
    plan: str
    region: str | None = None
    name: str | None = None
    callback_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    grant_code: str | None = None
    grant_expires_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What the Partner API answers: status and JSON body."""

    status: int
    body: dict[str, Any]


class Provisioner:
    """The provisioning service for one request: no Flask request in sight."""

    def __init__(
        self,
        registry: AdapterRegistry,
        vault: Vault,
        enqueue: Callable[[str, float], None],
        async_deadline: timedelta = timedelta(hours=12),
    ) -> None:
        self._registry = registry
        self._vault = vault
        self._enqueue = enqueue
        self._async_deadline = async_deadline

    # --- provision --------------------------------------------------------------------------

    def provision(self, addon: Addon, command: ProvisionCommand) -> Outcome:
        """Create the resource, or return the earlier answer for the same uuid.

        :raises Unprocessable: unknown plan or unsupported region.
        :raises Gone: the uuid was deprovisioned.
        :raises ServiceUnavailable: the backend is down; nothing is left behind.
        """
        plan = _find_plan(addon, command.plan)
        region = supported_region(command.region, addon.regions)
        if region is None:
            raise Unprocessable(
                f"Region {command.region!r} is not supported by {addon.slug}; "
                f"supported: {', '.join(addon.regions)}."
            )
        inserted = self._insert_if_new(addon, plan, region, command)
        resource = lock_resource(command.uuid)
        if resource.addon_id != addon.id:
            db.session.rollback()
            raise Conflict("This uuid belongs to a resource of another add-on.")
        if resource.state in _GONE_STATES:
            db.session.rollback()
            raise Gone("This resource has been deprovisioned.")
        if resource.is_async:
            return self._accept_async(resource, command, start=inserted)
        fresh = resource.state != ResourceState.PROVISIONED
        if fresh:
            self._provision_locked(resource)
        outcome = self._provisioned_outcome(resource)
        db.session.commit()
        if fresh and resource.authorization is not None:
            self._enqueue(resource.uuid, 0.0)  # exchange the grant while it is valid
        return outcome

    def _insert_if_new(
        self, addon: Addon, plan: Plan, region: str, command: ProvisionCommand
    ) -> bool:
        if db.session.scalar(select(Resource.id).where(Resource.uuid == command.uuid)):
            return False
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
        )
        if is_async:
            self._start_async(resource, command)
        elif command.grant_code:  # kept to push later config changes (credential rotation)
            resource.authorization = PlatformAuthorization(
                grant_code_encrypted=self._vault.encrypt(command.grant_code),
                grant_expires_at=command.grant_expires_at,
            )
        db.session.add(resource)
        try:
            db.session.commit()
        except IntegrityError:  # a concurrent duplicate inserted it first
            db.session.rollback()
            return False
        return True

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
    ) -> Outcome:
        """Answer 202; queue the work on first sight, or again for a resource that failed."""
        if resource.state == ResourceState.FAILED and command.grant_code:
            resource.state = ResourceState.PROVISIONING
            resource.attempts = 0
            resource.last_error = None
            self._start_async(resource, command)
            start = True
        db.session.commit()
        if start:
            self._enqueue(resource.uuid, 0.0)
        return Outcome(
            202,
            {
                "id": resource.provider_id,
                "message": "Your add-on is being provisioned and will be available shortly.",
            },
        )

    def _provision_locked(self, resource: Resource) -> None:
        adapter = self._adapter(resource.addon)
        resource.attempts += 1
        request = ProvisionRequest(
            resource_id=resource.uuid,
            plan=adapter.spec.plan(resource.plan.slug) or _spec_missing(resource.plan),
            region=resource.region,
            options=dict(resource.options or {}),
        )
        try:
            result = adapter.provision(request)
        except AdapterError as error:
            resource.state = ResourceState.FAILED
            resource.last_error = error.message
            db.session.commit()
            log.warning(
                "provision failed", extra={"resource": resource.uuid, "error": error.message}
            )
            raise from_adapter_error(error) from error
        resource.config_encrypted = self._vault.encrypt_mapping(
            _declared_config(adapter, result.config)
        )
        resource.message = result.message
        resource.state = ResourceState.PROVISIONED
        resource.last_error = None

    def _provisioned_outcome(self, resource: Resource) -> Outcome:
        return Outcome(
            200,
            {
                "id": resource.provider_id,
                "config": self._vault.decrypt_mapping(resource.config_encrypted),
                "message": resource.message or "",
            },
        )

    # --- plan change ------------------------------------------------------------------------

    def change_plan(self, addon: Addon, uuid: str, plan_slug: str) -> Outcome:
        """Move the resource to another plan.

        :raises NotFound: unknown uuid. :raises Gone: deprovisioned.
        :raises Unprocessable: unknown plan, or the data does not fit it (nothing changed).
        :raises Conflict: the resource is not provisioned (yet).
        """
        new_plan = _find_plan(addon, plan_slug)
        resource = self._locked_resource(addon, uuid)
        if resource.state != ResourceState.PROVISIONED:
            db.session.rollback()
            raise Conflict(f"The resource is {resource.state}; try again once it is provisioned.")
        if resource.plan_id == new_plan.id:
            db.session.rollback()
            return Outcome(200, {"message": f"Already on plan {new_plan.slug}."})
        adapter = self._adapter(addon)
        new_spec = adapter.spec.plan(new_plan.slug) or _spec_missing(new_plan)
        try:
            result = adapter.change_plan(self._ref(adapter, resource), new_spec)
        except AdapterError as error:
            db.session.rollback()
            raise from_adapter_error(error) from error
        body: dict[str, Any] = {"message": result.message or f"Now on plan {new_plan.slug}."}
        changed = _declared_config(adapter, result.config)
        if changed:
            config = self._vault.decrypt_mapping(resource.config_encrypted) | changed
            resource.config_encrypted = self._vault.encrypt_mapping(config)
            body["config"] = changed
        resource.plan_id = new_plan.id
        db.session.commit()
        return Outcome(200, body)

    # --- deprovision ------------------------------------------------------------------------

    def deprovision(self, addon: Addon, uuid: str) -> Outcome:
        """Remove the resource's backend objects and forget its credentials.

        :raises NotFound: unknown uuid. :raises Gone: already deprovisioned.
        :raises ServiceUnavailable: the backend is down; a retry finishes the job.
        """
        resource = self._locked_resource(addon, uuid, allow_deprovisioning=True)
        adapter = self._adapter(addon)
        queued = self._queue_removal(resource, adapter)
        if queued is not None:
            return queued
        resource.state = ResourceState.DEPROVISIONING
        db.session.commit()  # durable intent: a crash from here on is re-driven, never revived
        resource = lock_resource(uuid)
        if resource.state == ResourceState.DEPROVISIONED:  # a concurrent DELETE finished first
            db.session.rollback()
            raise Gone("This resource has been deprovisioned.")
        try:
            adapter.deprovision(self._ref(adapter, resource))
        except AdapterError as error:
            resource.last_error = error.message
            db.session.commit()
            raise from_adapter_error(error) from error
        resource.state = ResourceState.DEPROVISIONED
        resource.deprovisioned_at = datetime.now(UTC)
        resource.config_encrypted = None
        resource.last_error = None
        db.session.commit()
        return Outcome(204, {})

    def _queue_removal(self, resource: Resource, adapter: AddonAdapter) -> Outcome | None:
        """Hand the removal to the worker when it cannot (or should not) finish inline.

        A provision still running in a worker is cancelled (204: nothing usable exists);
        an add-on that deprovisions asynchronously answers 202 and reports back later.
        """
        cancel = resource.is_async and resource.state == ResourceState.PROVISIONING
        report_back = (
            adapter.spec.asynchronous_deprovision
            and resource.state == ResourceState.PROVISIONED
            and resource.authorization is not None
        )
        if not (cancel or report_back):
            return None
        resource.state = ResourceState.DEPROVISIONING
        resource.step = CANCEL_STEP if cancel else DEPROVISION_STEP
        db.session.commit()
        self._enqueue(resource.uuid, 0.0)
        if cancel:
            return Outcome(204, {})
        return Outcome(202, {"message": "Your add-on is being removed."})

    # --- shared -----------------------------------------------------------------------------

    def _locked_resource(
        self, addon: Addon, uuid: str, *, allow_deprovisioning: bool = False
    ) -> Resource:
        exists = db.session.scalar(
            select(Resource.id).where(Resource.uuid == uuid, Resource.addon_id == addon.id)
        )
        if exists is None:
            raise NotFound("No resource with this uuid.")
        resource = lock_resource(uuid)
        gone = resource.state == ResourceState.DEPROVISIONED or (
            resource.state == ResourceState.DEPROVISIONING and not allow_deprovisioning
        )
        if gone:
            db.session.rollback()
            raise Gone("This resource has been deprovisioned.")
        return resource

    def _adapter(self, addon: Addon) -> AddonAdapter:
        adapter = self._registry.get(addon.slug)
        if adapter is None:
            raise Unprocessable(f"The add-on {addon.slug} is not served by this broker right now.")
        return adapter

    def _ref(self, adapter: AddonAdapter, resource: Resource) -> ResourceRef:
        return ResourceRef(
            resource_id=resource.uuid,
            plan=adapter.spec.plan(resource.plan.slug) or _spec_missing(resource.plan),
            region=resource.region,
            config=self._vault.decrypt_mapping(resource.config_encrypted),
        )


def _find_plan(addon: Addon, slug: str) -> Plan:
    name = slug.removeprefix(f"{addon.slug}:")
    plan = addon.plan(name)
    if plan is None or plan.state != "public":
        choices = ", ".join(p.slug for p in addon.plans if p.state == "public")
        raise Unprocessable(f"Unknown plan {slug!r} for {addon.slug}; choose one of: {choices}.")
    return plan


def _declared_config(adapter: AddonAdapter, config: Mapping[str, str]) -> dict[str, str]:
    """Keep only declared config vars, as strings (the Partner API rejects anything else)."""
    declared = set(adapter.spec.config_vars)
    undeclared = set(config) - declared
    if undeclared:
        log.error(
            "adapter %s returned undeclared config vars %s", adapter.spec.slug, sorted(undeclared)
        )
    return {name: str(value) for name, value in config.items() if name in declared}


def _spec_missing(plan: Plan) -> Any:
    raise Unprocessable(f"Plan {plan.slug} is no longer offered by the adapter.")
