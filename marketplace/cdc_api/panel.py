"""The data connectors panel of a Postgres resource's dashboard: what the template needs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from marketplace.adapters import DataConnectors
from marketplace.cdc_api.service import service
from marketplace.context import lifecycle
from marketplace.errors import MarketplaceError
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.services.data_connector_views import ConnectorView
from marketplace.services.links import LinkTarget, candidates


@dataclass(frozen=True)
class ConnectorPanel:
    """Connectors with status and slot lag, the app's Kafka resources to pick from, and the
    plan's limits (``max_connectors`` connectors of ``max_tables`` tables each)."""

    connectors: tuple[ConnectorView, ...]
    kafka_choices: tuple[LinkTarget, ...]
    max_connectors: int
    max_tables: int
    unavailable: str | None = None


def connector_panel(uuid: str) -> ConnectorPanel | None:
    """The panel for resource ``uuid``, or None when its add-on has no data connectors or it
    is not provisioned."""
    resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
    if resource is None or resource.state != ResourceState.PROVISIONED:
        return None
    adapter = lifecycle().registry.get(resource.addon.slug)
    if not isinstance(adapter, DataConnectors):
        return None
    limits = lifecycle().plan_spec(resource).limits
    choices = tuple(
        LinkTarget(r.uuid, r.name or r.uuid, r.plan.slug) for r in candidates(resource, "kafka")
    )
    max_connectors = int(limits.get("max_connectors", 0))
    max_tables = int(limits.get("max_connector_tables", 0))
    try:
        views = tuple(service().list_for(uuid))
    except MarketplaceError as error:
        return ConnectorPanel((), choices, max_connectors, max_tables, error.message)
    return ConnectorPanel(views, choices, max_connectors, max_tables)
