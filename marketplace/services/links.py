"""Linked resources: a resource attaches to another add-on's resource of the same app.

An add-on declares its links (``AddonSpec.links``). The core resolves a target by its uuid
or resource name, **only among resources of the same app** (the app comes from the Platform
API's add-on info), records the link, and tells the adapter (:class:`Linking`). Deprovisioning
a target is never refused: the lifecycle tells its dependants first
(:meth:`Lifecycle.release_dependants`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select

from marketplace.adapters import ActionResult, AdapterError, LinkedResource, Linking, LinkSpec
from marketplace.errors import Unprocessable, from_adapter_error, quoted
from marketplace.extensions import db
from marketplace.models import Addon, Resource, ResourceLink, ResourceState
from marketplace.models._types import utcnow
from marketplace.services import events
from marketplace.services.leases import request_lease
from marketplace.services.lifecycle import Lifecycle

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class LinkTarget:
    """A resource a link can point at: its uuid, name and plan, for pickers and answers."""

    uuid: str
    name: str
    plan: str


@dataclass(frozen=True)
class LinkView:
    """One declared link of a resource: where it points now, and where it could."""

    name: str
    addon: str
    description: str
    target: LinkTarget | None
    candidates: tuple[LinkTarget, ...]


def resolve_target(source: Resource, addon_slug: str, key: str) -> Resource:
    """The ``addon_slug`` resource called ``key`` (uuid or resource name) of ``source``'s app.

    :raises Unprocessable: the app of ``source`` is unknown, or no provisioned resource of that
        add-on and app has that uuid or name (the same answer whether it exists on another
        app or not, so nothing leaks across apps).
    """
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable(f"Name the {addon_slug} resource by its uuid or resource name.")
    if not source.app_id:
        raise Unprocessable(
            "This resource's app is not known yet, so it cannot be linked; try again in a "
            "minute (the broker learns it from the platform after provisioning)."
        )
    target = db.session.scalar(
        select(Resource)
        .join(Addon, Addon.id == Resource.addon_id)
        .where(
            Addon.slug == addon_slug,
            Resource.app_id == source.app_id,
            Resource.state == ResourceState.PROVISIONED,
            Resource.id != source.id,
            or_(Resource.uuid == key, Resource.name == key),
        )
        .order_by(Resource.created_at)
        .limit(1)
    )
    if target is None:
        raise Unprocessable(f"This app has no {addon_slug} resource called {quoted(key)}.")
    return target


def candidates(source: Resource, addon_slug: str) -> list[Resource]:
    """Provisioned ``addon_slug`` resources of ``source``'s app (none when it is unknown)."""
    if not source.app_id:
        return []
    return list(
        db.session.scalars(
            select(Resource)
            .join(Addon, Addon.id == Resource.addon_id)
            .where(
                Addon.slug == addon_slug,
                Resource.app_id == source.app_id,
                Resource.state == ResourceState.PROVISIONED,
                Resource.id != source.id,
            )
            .order_by(Resource.name, Resource.uuid)
            .limit(100)
        )
    )


def link_views(
    resource: Resource, specs: Sequence[LinkSpec], lifecycle: Lifecycle
) -> tuple[LinkView, ...]:
    """Every declared link of ``resource``, for its dashboard."""
    current = {link.name: link.target for link in lifecycle.links_from(resource)}
    views = []
    for spec in specs:
        target = current.get(spec.name)
        views.append(
            LinkView(
                name=spec.name,
                addon=spec.addon,
                description=spec.description,
                target=_target(target) if target is not None else None,
                candidates=tuple(_target(r) for r in candidates(resource, spec.addon)),
            )
        )
    return tuple(views)


def attach(uuid: str, link_name: str, key: str, lifecycle: Lifecycle) -> ActionResult:
    """Point the link ``link_name`` of resource ``uuid`` at the resource ``key`` names.

    Runs under the source's lease, with no store transaction open while the adapter works.

    :raises Unprocessable: unknown link, the resource is not provisioned, no such target on
        this app, or the adapter refused it; nothing changed.
    :raises ServiceUnavailable: the backend is down; nothing changed.
    """
    with request_lease(uuid):
        source = _source(uuid)
        spec = _declared_link(source, link_name, lifecycle)
        target = resolve_target(source, spec.addon, key)
        existing = _link(source, link_name)
        if existing is not None and existing.target_id == target.id:
            db.session.rollback()
            return ActionResult(f"Already linked to {target.name or target.uuid}.")
        if existing is not None:
            _detach_locked(source, existing, lifecycle)
            source = _source(uuid)
        adapter = lifecycle.adapter(source)
        linked = LinkedResource(link_name, spec.addon, lifecycle.ref(target, links=False))
        ref, target_id = lifecycle.ref(source), target.id
        db.session.commit()
        try:
            if isinstance(adapter, Linking):
                result = adapter.link_attached(ref, linked)
            else:
                result = ActionResult(f"Linked to {target.name or target.uuid}.")
        except AdapterError as error:
            raise from_adapter_error(error) from error
        lifecycle.store_state(source, result.state)
        lifecycle.merge_config(source, result.config)
        events.emit_all(source, result.events)  # sent once the commit below lands
        source.condition = None
        if result.wake and lifecycle.has_background_work(source):
            source.next_tick_at = utcnow()
        db.session.add(ResourceLink(source_id=source.id, name=link_name, target_id=target_id))
        db.session.commit()
    log.info(
        "linked", extra={"resource": uuid, "link": link_name, "target": linked.resource.resource_id}
    )
    return result


def detach(uuid: str, link_name: str, lifecycle: Lifecycle) -> ActionResult:
    """Remove the link ``link_name`` of resource ``uuid`` (the adapter releases it first).

    :raises Unprocessable: unknown link, or nothing is linked.
    """
    with request_lease(uuid):
        source = _source(uuid)
        _declared_link(source, link_name, lifecycle)
        existing = _link(source, link_name)
        if existing is None:
            db.session.rollback()
            raise Unprocessable(f"Nothing is linked as {link_name}.")
        result = _detach_locked(source, existing, lifecycle)
        db.session.commit()
    return result


def _detach_locked(source: Resource, link: ResourceLink, lifecycle: Lifecycle) -> ActionResult:
    """Tell the adapter (no store transaction open), then drop the link (flushed, not
    committed). The caller holds the source's lease."""
    adapter = lifecycle.adapter(source)
    result = ActionResult(f"Unlinked {link.name}.")
    name, ref = link.name, lifecycle.ref(source)
    db.session.commit()
    if isinstance(adapter, Linking):
        try:
            result = adapter.link_removed(ref, name)
        except AdapterError as error:
            log.warning(
                "link release failed", extra={"resource": source.uuid, "error": error.message}
            )
    lifecycle.store_state(source, result.state)
    lifecycle.merge_config(source, result.config)
    events.emit_all(source, result.events)
    db.session.delete(link)
    db.session.flush()
    return result


def _declared_link(source: Resource, link_name: str, lifecycle: Lifecycle) -> LinkSpec:
    if source.state != ResourceState.PROVISIONED:
        raise Unprocessable(f"The resource is {source.state}; links can change once it is ready.")
    spec = lifecycle.adapter(source).spec.link(link_name)
    if spec is None:
        raise Unprocessable(
            f"{source.addon.name} resources have no link called {quoted(link_name)}."
        )
    return spec


def _source(uuid: str) -> Resource:
    source = db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )
    if source is None:
        raise Unprocessable("No resource with this uuid.")
    return source


def _link(source: Resource, name: str) -> ResourceLink | None:
    return db.session.scalar(
        select(ResourceLink).where(ResourceLink.source_id == source.id, ResourceLink.name == name)
    )


def _target(resource: Resource) -> LinkTarget:
    return LinkTarget(resource.uuid, resource.name or resource.uuid, resource.plan.slug)
