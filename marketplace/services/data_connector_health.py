"""Data connectors as their API shows them: stored rows with the backends' live health.

The adapter is asked once for every connector of a resource; what it says (creating ->
available, -> error and back) is remembered on the rows. A backend that is down gives the
stored status and says so.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from marketplace.adapters import AdapterError, ConnectorHealth, DataConnectors, KafkaLogin
from marketplace.extensions import db
from marketplace.models import (
    ConnectorStatus,
    DataConnector,
    Resource,
    ResourceLink,
    ResourceState,
)
from marketplace.models._types import utcnow
from marketplace.services import events
from marketplace.services.data_connector_views import ConnectorView, view_of
from marketplace.services.lifecycle import Lifecycle


def live_views(
    lifecycle: Lifecycle,
    postgres: Resource,
    connectors: list[DataConnector],
    max_paused_lag: int,
) -> list[ConnectorView]:
    """Views with live health (one call to the adapter for all of them); a backend that
    is down gives the stored status and says so."""
    live = [c for c in connectors if c.status != ConnectorStatus.DEPROVISIONED]
    health: dict[str, ConnectorHealth] = {}
    unavailable = None
    adapter = lifecycle.registry.get(postgres.addon.slug)
    if live and isinstance(adapter, DataConnectors):
        try:
            health = dict(
                adapter.connector_health(lifecycle.ref(postgres, links=False), [c.id for c in live])
            )
        except AdapterError as error:
            unavailable = f"Live status unavailable: {error.message}"
    views = []
    for connector in connectors:
        login = None
        if connector.kafka.state == ResourceState.PROVISIONED:
            config = lifecycle.config(connector.kafka)
            if "KAFKA_PREFIX" in config:
                login = KafkaLogin(config["KAFKA_PREFIX"], "", "")
        view = view_of(
            connector,
            login,
            health.get(connector.id),
            max_paused_lag,
            unavailable if connector in live else None,
        )
        # Remember what the backends said (creating -> available, -> error and back);
        # paused and resumed are only ever set by pause() and resume().
        if (
            view.status != connector.status
            and connector.status != ConnectorStatus.PAUSED
            and view.status in (ConnectorStatus.AVAILABLE, ConnectorStatus.ERROR)
        ):
            connector.status = view.status
            connector.status_reason = view.status_reason
            events.data_connector_changed(connector)
        views.append(view)
    db.session.commit()
    return views


def settle(connectors: list[DataConnector]) -> None:
    """Mark deprovisioned the connectors whose Postgres resource is gone or whose Kafka
    link was removed (the adapter already destroyed them then)."""
    for connector in connectors:
        if connector.status == ConnectorStatus.DEPROVISIONED:
            continue
        if connector.postgres.state not in (ResourceState.PROVISIONED,):
            mark_gone(connector, "The database was removed.")
        elif not db.session.scalar(
            select(ResourceLink.id).where(
                ResourceLink.source_id == connector.postgres_resource_id,
                ResourceLink.name == connector.link_name,
            )
        ):
            mark_gone(connector, "Its Kafka resource was removed.")
    db.session.flush()


def mark_gone(connector: DataConnector, reason: str) -> None:
    """Store ``connector`` as deprovisioned for ``reason`` and remove its Kafka link."""
    connector.status = ConnectorStatus.DEPROVISIONED
    connector.status_reason = reason
    connector.deprovisioned_at = utcnow()
    events.data_connector_changed(connector)
    db.session.execute(
        delete(ResourceLink).where(
            ResourceLink.source_id == connector.postgres_resource_id,
            ResourceLink.name == connector.link_name,
        )
    )
