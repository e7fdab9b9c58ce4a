"""What a resource's dashboard shows, and what a customer can do from it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from marketplace.adapters import (
    AdapterError,
    AdapterRegistry,
    AddonAdapter,
    ResourceDetails,
    ResourceRef,
    Usage,
)
from marketplace.errors import Forbidden, Unprocessable, from_adapter_error
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.services.async_provisioning import PUSH_CONFIG_STEP
from marketplace.services.crypto import Vault
from marketplace.services.leases import lock_resource

log = logging.getLogger(__name__)

MASK = "••••••••"


@dataclass(frozen=True)
class ConfigVarView:
    """A config var: its value is in the page but shown only on request."""

    name: str
    value: str
    masked_value: str = MASK


@dataclass(frozen=True)
class DashboardView:
    """A resource, ready for the dashboard template."""

    uuid: str
    name: str
    addon_slug: str
    addon_name: str
    plan_slug: str
    plan_name: str
    state: str
    region: str
    config_vars: tuple[ConfigVarView, ...]
    usage: Usage | None
    details: ResourceDetails | None
    unavailable: str | None
    can_push_config: bool


def dashboard_view(uuid: str, vault: Vault, registry: AdapterRegistry) -> DashboardView:
    """Load the resource ``uuid`` with its usage and details.

    A backend that is down does not break the page: ``unavailable`` says why figures are
    missing.

    :raises Forbidden: the resource is gone (its session no longer grants anything).
    """
    resource = _live_resource(uuid)
    config = vault.decrypt_mapping(resource.config_encrypted)
    usage = details = None
    unavailable = None
    adapter = registry.get(resource.addon.slug)
    if adapter is not None and resource.state == ResourceState.PROVISIONED:
        ref = _ref(adapter, resource, config)
        try:
            usage = adapter.usage(ref)
            details = adapter.details(ref)
        except AdapterError as error:
            unavailable = error.message
    auth = resource.authorization
    return DashboardView(
        uuid=resource.uuid,
        name=resource.name or resource.uuid,
        addon_slug=resource.addon.slug,
        addon_name=resource.addon.name,
        plan_slug=resource.plan.slug,
        plan_name=resource.plan.human_name,
        state=resource.state,
        region=resource.region,
        config_vars=tuple(ConfigVarView(name, config[name]) for name in sorted(config)),
        usage=usage,
        details=details,
        unavailable=unavailable,
        can_push_config=auth is not None and (auth.exchanged or bool(auth.grant_code_encrypted)),
    )


def rotate_credentials(
    uuid: str, vault: Vault, registry: AdapterRegistry, enqueue: Callable[[str, float], None]
) -> tuple[dict[str, str], bool]:
    """Issue new credentials; return the new config vars and whether the platform gets them.

    :raises Unprocessable: the resource is not provisioned. :raises ServiceUnavailable: the
        backend is down (nothing changed).
    """
    resource = lock_resource(uuid)
    if resource.state != ResourceState.PROVISIONED:
        db.session.rollback()
        raise Unprocessable(f"The resource is {resource.state}; credentials cannot change now.")
    adapter = _adapter(registry, resource)
    config = vault.decrypt_mapping(resource.config_encrypted)
    try:
        result = adapter.rotate_credentials(_ref(adapter, resource, config))
    except AdapterError as error:
        db.session.rollback()
        raise from_adapter_error(error) from error
    changed = {k: str(v) for k, v in result.config.items() if k in adapter.spec.config_vars}
    resource.config_encrypted = vault.encrypt_mapping(config | changed)
    pushed = resource.authorization is not None
    if pushed:
        resource.step = PUSH_CONFIG_STEP
    db.session.commit()
    if pushed:
        enqueue(resource.uuid, 0.0)
    log.info("credentials rotated", extra={"resource": uuid, "pushed": pushed})
    return changed, pushed


def perform_action(
    uuid: str, action: str, params: Mapping[str, str], vault: Vault, registry: AdapterRegistry
) -> str:
    """Run one of the add-on's dashboard actions; return the message for the customer.

    The resource's row stays locked while the adapter works, so an add-on's cap check and the
    change it guards (a Kafka topic within the plan's limits) are atomic across processes.

    :raises Unprocessable: unknown action, bad parameters or a plan cap (nothing changed).
    :raises ServiceUnavailable: the backend is down.
    """
    resource = lock_resource(uuid)
    try:
        if resource.state in (ResourceState.DEPROVISIONING, ResourceState.DEPROVISIONED):
            raise Forbidden("This resource no longer exists.")
        if resource.state != ResourceState.PROVISIONED:
            raise Unprocessable(f"The resource is {resource.state}; try again once it is ready.")
        adapter = _adapter(registry, resource)
        ref = _ref(adapter, resource, vault.decrypt_mapping(resource.config_encrypted))
        return adapter.perform(ref, action, dict(params))
    except AdapterError as error:
        raise from_adapter_error(error) from error
    finally:
        db.session.rollback()  # releases the row lock; an action changes no row


def _live_resource(uuid: str) -> Resource:
    resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
    if resource is None or resource.state in (
        ResourceState.DEPROVISIONING,
        ResourceState.DEPROVISIONED,
    ):
        raise Forbidden("This resource no longer exists.")
    return resource


def _adapter(registry: AdapterRegistry, resource: Resource) -> AddonAdapter:
    adapter = registry.get(resource.addon.slug)
    if adapter is None:
        raise Unprocessable(f"The add-on {resource.addon.slug} is not served right now.")
    return adapter


def _ref(adapter: AddonAdapter, resource: Resource, config: Mapping[str, str]) -> ResourceRef:
    plan = adapter.spec.plan(resource.plan.slug) or adapter.spec.default_plan
    return ResourceRef(resource.uuid, plan, resource.region, dict(config))
