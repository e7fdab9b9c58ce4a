"""What a resource's dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.services.crypto import Vault

MASK = "••••••••"


@dataclass(frozen=True)
class ConfigVarView:
    """A config var with its value masked."""

    name: str
    masked_value: str


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


def dashboard_view(uuid: str, vault: Vault) -> DashboardView:
    """Load the resource ``uuid`` for its dashboard.

    :raises Forbidden: the resource is gone (its session no longer grants anything).
    """
    resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
    if resource is None or resource.state == ResourceState.DEPROVISIONED:
        raise Forbidden("This resource no longer exists.")
    config = vault.decrypt_mapping(resource.config_encrypted)
    return DashboardView(
        uuid=resource.uuid,
        name=resource.name or resource.uuid,
        addon_slug=resource.addon.slug,
        addon_name=resource.addon.name,
        plan_slug=resource.plan.slug,
        plan_name=resource.plan.human_name,
        state=resource.state,
        region=resource.region,
        config_vars=tuple(ConfigVarView(name, MASK) for name in sorted(config)),
    )
