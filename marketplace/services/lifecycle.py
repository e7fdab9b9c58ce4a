"""One resource lifecycle: the only module that changes a resource's state and secrets.

States: ``provisioning -> provisioned -> deprovisioning -> deprovisioned``, plus ``failed``.
Every caller (the Partner API's provisioning service, the asynchronous driver, the dashboard,
the reconciler, background ticks) goes through :class:`Lifecycle` to

* build the :class:`~marketplace.adapters.ResourceRef` an adapter is given (config, the
  adapter's private state, the app, linked resources, and the plan even after it was retired);
* keep only declared config vars, as strings;
* store what an adapter returns (config, private state) in the caller's transaction;
* remove what a failed provision created;
* tell dependants when a link target goes away;
* forget every secret (config, adapter state, platform tokens, API token) at the end.

Nothing here commits: callers own their transactions, so a state change and the secrets
that go with it are written together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.adapters import (
    ActionResult,
    AdapterError,
    AdapterRegistry,
    AddonAdapter,
    AppRef,
    BackendUnavailable,
    Background,
    LinkedResource,
    Linking,
    PlanSpec,
    ProvisionRequest,
    ProvisionResult,
    ResourceRef,
)
from marketplace.extensions import db
from marketplace.models import Plan, PlatformAuthorization, Resource, ResourceLink, ResourceState
from marketplace.models._types import utcnow
from marketplace.services import events
from marketplace.services.crypto import Vault
from marketplace.services.leases import end_transaction_under_lease

log = logging.getLogger(__name__)

LIVE_STATES = (ResourceState.PROVISIONING, ResourceState.PROVISIONED)


@dataclass(frozen=True)
class PlanChange:
    """What a plan change did: the message for the platform and the config vars that changed."""

    message: str
    config: Mapping[str, str]


def catalog_plan_spec(plan: Plan) -> PlanSpec:
    """A plan as the catalog remembers it: for resources on a plan the adapter retired."""
    return PlanSpec(
        slug=plan.slug,
        human_name=plan.human_name,
        description=plan.description,
        price_cents=plan.price_cents,
        limits=dict(plan.limits or {}),
        asynchronous=plan.is_async,
    )


class Lifecycle:
    """State transitions and adapter calls for resources, on the current session."""

    def __init__(self, registry: AdapterRegistry, vault: Vault) -> None:
        self._registry = registry
        self._vault = vault

    @property
    def registry(self) -> AdapterRegistry:
        """The adapters this lifecycle serves."""
        return self._registry

    # --- what adapters are given ------------------------------------------------------------

    def adapter(self, resource: Resource) -> AddonAdapter:
        """The resource's adapter.

        :raises BackendUnavailable: this process does not serve the add-on (503; retried).
        """
        adapter = self._registry.get(resource.addon.slug)
        if adapter is None:
            raise BackendUnavailable(
                f"The {resource.addon.slug} add-on is not served by this broker right now."
            )
        return adapter

    def plan_spec(self, resource: Resource, plan: Plan | None = None) -> PlanSpec:
        """The adapter's declaration of ``plan`` (default: the resource's), or the catalog's
        memory of it once retired: a retired plan blocks new provisions only."""
        plan = plan or resource.plan
        adapter = self._registry.get(resource.addon.slug)
        declared = adapter.spec.plan(plan.slug) if adapter is not None else None
        return declared or catalog_plan_spec(plan)

    def config(self, resource: Resource) -> dict[str, str]:
        """The resource's config vars, decrypted."""
        return self._vault.decrypt_mapping(resource.config_encrypted)

    def adapter_state(self, resource: Resource) -> dict[str, Any]:
        """The adapter's private state, decrypted (empty when none)."""
        if not resource.adapter_state_encrypted:
            return {}
        state: dict[str, Any] = json.loads(self._vault.decrypt(resource.adapter_state_encrypted))
        return state

    def ref(self, resource: Resource, *, links: bool = True) -> ResourceRef:
        """The :class:`ResourceRef` for ``resource``; with ``links``, its link targets too."""
        linked: dict[str, LinkedResource] = {}
        if links:
            for link in self.links_from(resource):
                linked[link.name] = LinkedResource(
                    link=link.name,
                    addon=link.target.addon.slug,
                    resource=self.ref(link.target, links=False),
                )
        return ResourceRef(
            resource_id=resource.uuid,
            plan=self.plan_spec(resource),
            region=resource.region,
            config=self.config(resource),
            state=self.adapter_state(resource),
            name=resource.name,
            app=AppRef(resource.app_id, resource.app_name or "") if resource.app_id else None,
            links=linked,
        )

    # --- storing what adapters return -------------------------------------------------------

    def store_state(self, resource: Resource, state: Mapping[str, Any] | None) -> None:
        """Replace the adapter's private state (None leaves it as it is)."""
        if state is not None:
            resource.adapter_state_encrypted = self.encrypt_state(state)

    def encrypt_state(self, state: Mapping[str, Any]) -> str:
        """The stored form of an adapter's private state: JSON, encrypted."""
        return self._vault.encrypt(json.dumps(dict(state), sort_keys=True, default=str))

    def merge_config(self, resource: Resource, config: Mapping[str, str]) -> dict[str, str]:
        """Merge the declared vars of ``config`` into the resource's; return those merged."""
        changed = self.declared(resource, config)
        if changed:
            resource.config_encrypted = self._vault.encrypt_mapping(self.config(resource) | changed)
        return changed

    def declared(self, resource: Resource, config: Mapping[str, str]) -> dict[str, str]:
        """Only the add-on's declared config vars, as strings (the platform refuses others)."""
        declared = set(resource.addon.config_vars)
        undeclared = set(config) - declared
        if undeclared:
            log.error(
                "adapter %s returned undeclared config vars %s",
                resource.addon.slug,
                sorted(undeclared),
            )
        return {name: str(value) for name, value in config.items() if name in declared}

    # --- provisioning -----------------------------------------------------------------------

    def provision_request(self, resource: Resource) -> ProvisionRequest:
        """What the adapter's ``provision`` is given for ``resource``."""
        return ProvisionRequest(
            resource_id=resource.uuid,
            plan=self.plan_spec(resource),
            region=resource.region,
            options=dict(resource.options or {}),
            name=resource.name,
        )

    def store_provision(self, resource: Resource, result: ProvisionResult) -> None:
        """Store a provision's config, state and message (not committed)."""
        resource.config_encrypted = self._vault.encrypt_mapping(
            self.declared(resource, result.config)
        )
        self.store_state(resource, result.state)
        resource.message = result.message

    def allocate(self, resource: Resource) -> ProvisionResult:
        """Create the backend objects and store config, state and message (not committed).

        :raises AdapterError: the adapter failed; what it made is still there (see
            :meth:`undo`), so a retry can converge or a caller can remove it.
        """
        request = self.provision_request(resource)
        result = self.adapter(resource).provision(request)
        self.store_provision(resource, result)
        return result

    def undo(self, resource: Resource) -> bool:
        """Remove what a failed provision created; return whether that worked (if not, the
        reconciler finds the leftovers as orphans). Commits what is pending first."""
        ref = self.ref(resource, links=False)
        db.session.commit()
        try:
            self.adapter(resource).deprovision(ref)
        except AdapterError as error:
            log.warning(
                "cleanup after a failed provision is incomplete",
                extra={"resource": resource.uuid, "error": error.message},
            )
            return False
        return True

    def mark_provision_failed(self, resource: Resource, reason: str) -> None:
        """A synchronous provision failed and was undone (not committed): ``failed``, with no
        config or adapter state. The grant stays, so the platform's retry can use it."""
        resource.state = ResourceState.FAILED
        resource.config_encrypted = None
        resource.adapter_state_encrypted = None
        resource.last_error = reason

    def provisioned_values(self, resource: Resource) -> dict[str, Any]:
        """The columns of a resource that works: provisioned, no step or error pending, and
        its first tick due now if its adapter does background work."""
        return {
            "state": ResourceState.PROVISIONED,
            "step": None,
            "last_error": None,
            "next_attempt_at": None,
            "next_tick_at": utcnow() if self.has_background_work(resource) else None,
        }

    def mark_provisioned(self, resource: Resource) -> None:
        """The resource works: :meth:`provisioned_values` set on it (not committed)."""
        for column, value in self.provisioned_values(resource).items():
            setattr(resource, column, value)
        events.record(resource, "provisioned")

    def has_background_work(self, resource: Resource) -> bool:
        """Whether the resource's adapter does background work (ticks)."""
        return isinstance(self._registry.get(resource.addon.slug), Background)

    # --- plan change ------------------------------------------------------------------------

    def change_plan(self, resource: Resource, new_plan: Plan) -> PlanChange:
        """Move the resource to ``new_plan`` (not committed).

        :raises AdapterError: the adapter refused (nothing changed) or the backend is down.
        """
        adapter = self.adapter(resource)
        ref, new_spec = self.ref(resource), self.plan_spec(resource, new_plan)
        db.session.commit()  # nothing pending: no lock is held across the backend call
        result = adapter.change_plan(ref, new_spec)
        changed = self.merge_config(resource, result.config)
        self.store_state(resource, result.state)
        events.plan_changed(resource, new_plan)
        resource.plan_id = new_plan.id
        resource.plan = new_plan
        return PlanChange(result.message or f"Now on plan {new_plan.slug}.", changed)

    # --- links ------------------------------------------------------------------------------

    def links_from(self, resource: Resource) -> list[ResourceLink]:
        """The links ``resource`` makes, by name."""
        return list(
            db.session.scalars(
                select(ResourceLink)
                .where(ResourceLink.source_id == resource.id)
                .order_by(ResourceLink.name)
            )
        )

    def links_to(self, resource: Resource) -> list[ResourceLink]:
        """The links other resources make to ``resource``."""
        return list(
            db.session.scalars(select(ResourceLink).where(ResourceLink.target_id == resource.id))
        )

    def release_dependants(self, resource: Resource) -> list[str]:
        """Tell every resource linked to ``resource`` that it is going away, unlink them and
        commit; return the dependants' uuids. Never fails: removal must always be possible.

        The adapters are called with no store transaction open (they may take a while), then
        their results are written. A dependant's worker lease is broken, so a tick that was
        running when the link went cannot write back state that still uses it.
        """
        pending: list[tuple[str, str, str, Linking | None, ResourceRef]] = []
        for link in self.links_to(resource):
            adapter = self._registry.get(link.source.addon.slug)
            linking = adapter if isinstance(adapter, Linking) else None
            pending.append((link.id, link.name, link.source.id, linking, self.ref(link.source)))
        if not pending:
            return []
        gone = f"The linked {resource.addon.name} resource was removed."
        db.session.commit()  # nothing pending: ends the read before the adapters' calls
        results: list[tuple[str, str, ActionResult]] = []
        for link_id, name, source_id, linking, ref in pending:
            result = ActionResult(gone)
            if linking is not None:
                try:
                    result = linking.link_removed(ref, name)
                except AdapterError as error:
                    log.warning(
                        "a dependant could not release its link",
                        extra={"resource": ref.resource_id, "error": error.message},
                    )
            results.append((link_id, source_id, result))
        told = []
        for link_id, source_id, result in results:
            source = db.session.get(Resource, source_id)
            stale = db.session.get(ResourceLink, link_id)
            if source is not None:
                self.store_state(source, result.state)
                self.merge_config(source, result.config)
                events.emit_all(source, result.events)
                source.condition = result.message or gone
                source.lease_owner = None
                source.lease_expires_at = None
                told.append(source.uuid)
            if stale is not None:
                db.session.delete(stale)
        db.session.commit()
        return told

    # --- removal ----------------------------------------------------------------------------

    def remove_backend(self, resource: Resource) -> None:
        """Release dependants (committed), then delete the backend objects with no store
        transaction open. The resource's own state is the caller's to write; the caller holds
        its lease.

        :raises AdapterError: the backend is down; a retry finishes the job.
        """
        adapter = self.adapter(resource)
        self.release_dependants(resource)
        ref = self.ref(resource)
        end_transaction_under_lease()  # no lock is held across the backend call
        adapter.deprovision(ref)

    def forget(self, resource: Resource, state: ResourceState) -> None:
        """Leave ``state`` and drop everything secret: config vars, the adapter's state,
        platform tokens, the API token, the log input, links, and any pending work."""
        events.record(resource, str(state), state=state)
        resource.state = state
        resource.step = None
        resource.config_encrypted = None
        resource.adapter_state_encrypted = None
        resource.next_attempt_at = None
        resource.next_tick_at = None
        resource.api_token_hash = None
        resource.api_token_created_at = None
        resource.log_input_url_encrypted = None
        if state == ResourceState.DEPROVISIONED:
            resource.deprovisioned_at = utcnow()
        if "authorization" in inspect(resource).unloaded:  # one DELETE, not a read and a DELETE
            db.session.execute(
                delete(PlatformAuthorization).where(
                    PlatformAuthorization.resource_id == resource.id
                )
            )
            set_committed_value(resource, "authorization", None)
        elif resource.authorization is not None:
            db.session.delete(resource.authorization)
            resource.authorization = None
        db.session.execute(
            delete(ResourceLink).where(
                or_(ResourceLink.source_id == resource.id, ResourceLink.target_id == resource.id)
            )
        )

    def fail(self, resource: Resource, reason: str) -> None:
        """End in ``failed`` with every backend object removed (not committed).

        :raises AdapterError: the backend is down; nothing changed, retry later.
        """
        self.remove_backend(resource)
        self.forget(resource, ResourceState.FAILED)
        resource.last_error = reason
