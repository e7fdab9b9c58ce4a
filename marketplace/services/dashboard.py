"""What a resource's dashboard shows, and what a customer can do from it.

Features follow the adapter's capabilities: usage only for :class:`Metering` adapters, the
add-on's panel for :class:`Dashboard`, actions for :class:`Actions`, rotation for
:class:`Rotation`, and a link panel for every link the add-on declares.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from marketplace.adapters import (
    ActionResult,
    Actions,
    AdapterError,
    Dashboard,
    LinkSpec,
    Metering,
    ResourceDetails,
    Rotation,
    Usage,
)
from marketplace.errors import Forbidden, NotFound, Unprocessable, from_adapter_error, quoted
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import utcnow
from marketplace.services import events
from marketplace.services.async_provisioning import PUSH_CONFIG_STEP
from marketplace.services.leases import request_lease
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.links import LinkView, link_views
from marketplace.services.scheduling import Scheduler

log = logging.getLogger(__name__)

MASK = "••••••••"


@dataclass(frozen=True)
class ConfigVarView:
    """A config var as a page lists it: the name only. Its value reaches the browser only
    when the customer asks for it (:func:`reveal_config_var`), in a response nobody caches."""

    name: str
    masked_value: str = MASK


@dataclass(frozen=True)
class DashboardView:
    """A resource, ready for the dashboard template and its JSON twin."""

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
    can_rotate: bool
    condition: str | None
    links: tuple[LinkView, ...]
    api_token_created_at: datetime | None


@dataclass(frozen=True)
class ActionOutcome:
    """An action's message, and where the browser goes next when the adapter says so."""

    message: str
    redirect: str | None = None


def dashboard_view(uuid: str, lifecycle: Lifecycle) -> DashboardView:
    """Load the resource ``uuid`` with what its adapter's capabilities offer.

    A backend that is down does not break the page: ``unavailable`` says why figures are
    missing.

    :raises Forbidden: the resource is gone (its session no longer grants anything).
    """
    resource = live_resource(uuid)
    config = lifecycle.config(resource)
    usage = details = None
    unavailable = None
    adapter = lifecycle.registry.get(resource.addon.slug)
    specs: tuple[LinkSpec, ...] = adapter.spec.links if adapter is not None else ()
    if adapter is not None and resource.state == ResourceState.PROVISIONED:
        ref = lifecycle.ref(resource)
        try:
            usage = adapter.usage(ref) if isinstance(adapter, Metering) else None
            details = adapter.details(ref) if isinstance(adapter, Dashboard) else None
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
        config_vars=tuple(ConfigVarView(name) for name in sorted(config)),
        usage=usage,
        details=details,
        unavailable=unavailable,
        can_push_config=auth is not None and (auth.exchanged or bool(auth.grant_code_encrypted)),
        can_rotate=isinstance(adapter, Rotation) and resource.state == ResourceState.PROVISIONED,
        condition=resource.condition,
        links=link_views(resource, specs, lifecycle),
        api_token_created_at=resource.api_token_created_at,
    )


def rotate_credentials(
    uuid: str, lifecycle: Lifecycle, scheduler: Scheduler
) -> tuple[dict[str, str], bool]:
    """Issue new credentials; return the new config vars and whether the platform gets them.

    :raises Unprocessable: the resource is not provisioned, or its add-on has no credentials
        to rotate. :raises ServiceUnavailable: the backend is down (nothing changed).
    """
    live_resource(uuid)
    with request_lease(uuid):
        resource = live_resource(uuid)
        if resource.state != ResourceState.PROVISIONED:
            raise Unprocessable(f"The resource is {resource.state}; credentials cannot change now.")
        adapter = lifecycle.adapter(resource)
        if not isinstance(adapter, Rotation):
            raise Unprocessable(f"{resource.addon.name} has no credentials to rotate.")
        ref = lifecycle.ref(resource)
        db.session.commit()  # no store transaction across the backend call
        try:
            result = adapter.rotate_credentials(ref)
        except AdapterError as error:
            raise from_adapter_error(error) from error
        changed = lifecycle.merge_config(resource, result.config)
        lifecycle.store_state(resource, result.state)
        events.record(resource, "credentials_rotated", config_vars=",".join(sorted(changed)))
        pushed = _push_config_later(resource)
        db.session.commit()
    if pushed:
        scheduler.enqueue_drive(uuid, 0.0)
    log.info("credentials rotated", extra={"resource": uuid, "pushed": pushed})
    return changed, pushed


def perform_action(
    uuid: str,
    action: str,
    params: Mapping[str, str],
    lifecycle: Lifecycle,
    scheduler: Scheduler,
    *,
    core: bool = False,
) -> ActionOutcome:
    """Run one of the add-on's actions; return its message and any redirect.

    Only the core (``core=True``, after its own checks) may run an adapter's
    ``core_actions``; for anyone else they are unknown actions.

    The action runs under the resource's lease, so an add-on's cap check and the change it
    guards (a Kafka topic within the plan's limits) are atomic across processes, and with no
    store transaction open. State and config the action returns are stored afterwards.

    :raises Unprocessable: unknown action, bad parameters or a plan cap (nothing changed).
    :raises ServiceUnavailable: the backend is down.
    """
    live_resource(uuid)
    with request_lease(uuid):
        resource = live_resource(uuid)
        if resource.state != ResourceState.PROVISIONED:
            raise Unprocessable(f"The resource is {resource.state}; try again once it is ready.")
        adapter = lifecycle.adapter(resource)
        if not isinstance(adapter, Actions) or (
            not core and action in getattr(adapter, "core_actions", frozenset())
        ):
            raise Unprocessable(f"Unknown action {quoted(action)}.")
        ref = lifecycle.ref(resource)
        db.session.commit()
        try:
            result: ActionResult = adapter.perform(ref, action, dict(params))
        except AdapterError as error:
            raise from_adapter_error(error) from error
        wake = result.wake and lifecycle.has_background_work(resource)
        events.emit_all(resource, result.events)  # sent once the commit below lands
        lifecycle.store_state(resource, result.state)
        pushed = bool(lifecycle.merge_config(resource, result.config)) and _push_config_later(
            resource
        )
        if wake:
            resource.next_tick_at = utcnow()
        db.session.commit()
    if pushed:
        scheduler.enqueue_drive(uuid, 0.0)
    if wake:
        scheduler.enqueue_tick(uuid, 0.0)
    return ActionOutcome(result.message, result.redirect)


def reveal_config_var(uuid: str, name: str, lifecycle: Lifecycle) -> str:
    """The value of the config var ``name``, which the customer asked to see.

    :raises Forbidden: the resource is gone. :raises NotFound: no such config var.
    """
    value = lifecycle.config(live_resource(uuid)).get(name)
    db.session.rollback()
    if value is None:
        raise NotFound(f"This resource has no config var called {name[:64]!r}.")
    log.info("config var revealed", extra={"resource": uuid, "config_var": name})
    return value


def live_resource(uuid: str) -> Resource:
    """The resource, unless it is gone.

    :raises Forbidden: unknown, deprovisioning or deprovisioned.
    """
    resource = db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )
    if resource is None or resource.state in (
        ResourceState.DEPROVISIONING,
        ResourceState.DEPROVISIONED,
    ):
        raise Forbidden("This resource no longer exists.")
    return resource


def _push_config_later(resource: Resource) -> bool:
    """Mark the resource's new config for the worker to send to the platform, when it can."""
    if resource.authorization is None:
        return False
    resource.step = PUSH_CONFIG_STEP
    return True
