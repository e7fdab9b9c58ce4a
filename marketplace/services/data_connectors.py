"""Streaming data connectors: the core's side (issue 15).

A connector belongs to a Postgres resource whose adapter offers
:class:`~marketplace.adapters.DataConnectors`, and streams chosen tables into a Kafka resource
of the same app (resolved with :func:`~marketplace.services.links.resolve_target`). This
service owns the rows, the ``kafka:<connector id>`` link, plan limits (``max_connectors`` and
``max_connector_tables`` of the Postgres plan), and the Kafka topics: it creates
``<prefix><name>.<schema>.<table>`` and ``<prefix><name>.heartbeat`` through the Kafka
adapter, within the Kafka plan's caps, before the connector starts (tenants may not create
topics, and Connect's own topic creation would bypass the caps).

Every change runs under the Postgres resource's lease (topic creation also under the Kafka
resource's), with no store transaction open during backend calls. A backend that is down
answers 503 and leaves nothing half-made: the adapter removes what it made, and the topics
created for a failed connector are deleted again.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Sequence

from sqlalchemy import select

from marketplace.adapters import (
    AdapterError,
    ConnectorSpec,
    DataConnectors,
)
from marketplace.errors import MarketplaceError, NotFound, Unprocessable, from_adapter_error
from marketplace.extensions import db
from marketplace.models import (
    ConnectorStatus,
    DataConnector,
    Resource,
    ResourceLink,
    ResourceState,
)
from marketplace.services import events
from marketplace.services.data_connector_health import live_views, mark_gone, settle
from marketplace.services.data_connector_lookup import find_connector_id, live_of_resource
from marketplace.services.data_connector_topics import ConnectorTopics
from marketplace.services.data_connector_views import (
    ConnectorRequest,
    ConnectorView,
    check_unique,
    login_of,
    spec_of,
)
from marketplace.services.leases import request_lease
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.links import resolve_target

log = logging.getLogger(__name__)


class DataConnectorService:
    """Create, read, change and remove data connectors, for the API, the pages and the CLI."""

    def __init__(self, lifecycle: Lifecycle, max_paused_lag_bytes: int) -> None:
        self._lifecycle = lifecycle
        self._max_paused_lag = max_paused_lag_bytes
        self._topics = ConnectorTopics(lifecycle)

    # --- reading ----------------------------------------------------------------------------

    def postgres_uuid(self, connector_id: str) -> str:
        """The uuid of the connector's Postgres resource (whose access opens the connector).

        :raises NotFound: no such connector.
        """
        return self._connector(connector_id).postgres.uuid

    def list_for(self, postgres_uuid: str) -> list[ConnectorView]:
        """The resource's connectors that are not deprovisioned, with live status.

        :raises NotFound: no such resource.
        """
        postgres = self._resource(postgres_uuid)
        connectors = self._live(postgres)
        return self._views(postgres, connectors)

    def connector_id(
        self, key: str, postgres_uuid: str | None = None, *, by_name: bool = True
    ) -> str:
        """The id of the connector ``key`` (its uuid or, as Heroku's CLI passes it, its
        name; among ``postgres_uuid``'s connectors when given).

        :raises NotFound: no such connector.
        :raises Unprocessable: the name is ambiguous.
        """
        return find_connector_id(key, postgres_uuid, by_name=by_name)

    def list_for_addon(self, uuid: str) -> list[ConnectorView]:
        """The live connectors of a resource at either end (a Postgres resource's, or
        those writing into a Kafka resource), like Heroku's ``GET /addons/<addon>``.

        :raises NotFound: no such resource.
        """
        resource = self._resource(uuid)
        connectors = live_of_resource(resource)
        settle(connectors)
        views: list[ConnectorView] = []
        live = [c for c in connectors if c.status != ConnectorStatus.DEPROVISIONED]
        for postgres in dict.fromkeys(c.postgres for c in live):
            views += self._views(postgres, [c for c in live if c.postgres is postgres])
        return views

    def all_views(self) -> list[ConnectorView]:
        """Every live connector of every resource (for the operator)."""
        views: list[ConnectorView] = []
        for postgres in db.session.scalars(
            select(Resource)
            .join(DataConnector, DataConnector.postgres_resource_id == Resource.id)
            .where(DataConnector.status != ConnectorStatus.DEPROVISIONED)
            .distinct()
        ).all():
            views += self._views(postgres, self._live(postgres))
        return views

    def get(self, connector_id: str) -> ConnectorView:
        """One connector with its live status.

        :raises NotFound: no such connector.
        """
        connector = self._connector(connector_id)
        settle([connector])
        return self._views(connector.postgres, [connector])[0]

    # --- changing ---------------------------------------------------------------------------

    def create(self, postgres_uuid: str, request: ConnectorRequest) -> ConnectorView:
        """Create a connector from ``request`` (``kafka`` and ``tables`` set).

        :raises NotFound: no such resource.
        :raises Unprocessable: not provisioned, no data connectors on this add-on, a plan
            limit (named), an unknown Kafka resource, a bad or missing table, a taken name,
            or a Kafka plan cap on topics.
        :raises ServiceUnavailable: a backend is down; nothing was left behind.
        """
        assert request.kafka is not None and request.tables is not None
        with request_lease(postgres_uuid):
            postgres = self._resource(postgres_uuid)
            adapter = self._adapter(postgres)
            live = self._live(postgres)
            self._check_limits(postgres, len(live) + 1, request.tables)
            kafka = resolve_target(postgres, "kafka", request.kafka)
            connector_id = str(uuid_module.uuid4())
            # Heroku's generated names: pg2k_<the connector's uuid with underscores>.
            name = request.name or f"pg2k_{connector_id.replace('-', '_')}"
            check_unique([c.name for c in live], name)
            check_unique([c.name for c in self._live_on_kafka(kafka)], name)
            spec = ConnectorSpec(
                connector_id,
                name,
                request.tables,
                request.excluded_columns or (),
                dict(request.settings or {}),
            )
            login = login_of(self._lifecycle.config(kafka))
            ref, kafka_uuid = self._lifecycle.ref(postgres), kafka.uuid
            db.session.commit()
            try:
                adapter.check_capture(ref, spec.tables, spec.excluded_columns)
                made = self._topics.ensure(kafka_uuid, spec, login)
                try:
                    change = adapter.create_connector(ref, spec, login)
                except AdapterError:
                    self._topics.delete(kafka_uuid, made)
                    raise
            except AdapterError as error:
                raise from_adapter_error(error) from error
            postgres, kafka = self._resource(postgres_uuid), self._resource(kafka_uuid)
            self._lifecycle.store_state(postgres, change.state)
            connector = DataConnector(
                id=connector_id,
                name=name,
                postgres_resource_id=postgres.id,
                kafka_resource_id=kafka.id,
                tables=list(spec.tables),
                excluded_columns=list(spec.excluded_columns),
                settings=dict(spec.settings),
                status=ConnectorStatus.CREATING,
            )
            db.session.add(connector)
            db.session.add(
                ResourceLink(source_id=postgres.id, name=connector.link_name, target_id=kafka.id)
            )
            connector.postgres = postgres
            events.data_connector_changed(connector)
            db.session.commit()
        log.info("data connector created", extra={"connector": connector_id})
        return self.get(connector_id)

    def update(self, connector_id: str, request: ConnectorRequest) -> ConnectorView:
        """Change tables, excluded columns or settings (and pick up the Kafka tenant's
        current credentials). New tables' topics are created first.

        :raises Unprocessable: as for :meth:`create`; nothing changed.
        :raises ServiceUnavailable: a backend is down; the connector keeps its old config.
        """
        self._apply(connector_id, request)
        return self.get(connector_id)

    def hand_over_kafka_credentials(self, kafka_uuid: str) -> list[str]:
        """Give every live connector writing into ``kafka_uuid`` the Kafka tenant's current
        credentials, after they were rotated (the old password stops working at the next
        re-authentication). Returns the names of the connectors that could not take them (a
        backend down, the connector destroyed meanwhile); an update of each (an empty
        ``PATCH``) hands them over later."""
        kafka = self._resource(kafka_uuid)
        connectors = [(c.id, c.name) for c in self._live_on_kafka(kafka)]
        db.session.commit()
        missed: list[str] = []
        for connector_id, name in connectors:
            try:
                self._apply(connector_id, ConnectorRequest())
            except MarketplaceError as error:
                db.session.rollback()
                log.warning(
                    "kafka credentials not handed over",
                    extra={"connector": connector_id, "error": error.message},
                )
                missed.append(name)
        return missed

    def _apply(self, connector_id: str, request: ConnectorRequest) -> None:
        postgres_uuid = self.postgres_uuid(connector_id)
        with request_lease(postgres_uuid):
            connector = self._changeable(connector_id)
            adapter = self._adapter(connector.postgres)
            current = spec_of(connector)
            tables = request.tables if request.tables is not None else current.tables
            self._check_limits(connector.postgres, 0, tables)
            spec = ConnectorSpec(
                connector.id,
                connector.name,
                tables,
                request.excluded_columns
                if request.excluded_columns is not None
                else current.excluded_columns,
                # Settings merge (Heroku's --setting k=v changes k only).
                {**current.settings, **(request.settings or {})},
            )
            login = login_of(self._lifecycle.config(connector.kafka))
            ref, kafka_uuid = self._lifecycle.ref(connector.postgres), connector.kafka.uuid
            db.session.commit()
            try:
                adapter.check_capture(ref, spec.tables, spec.excluded_columns)
                self._topics.ensure(kafka_uuid, spec, login)
                adapter.update_connector(ref, spec, login)
            except AdapterError as error:
                raise from_adapter_error(error) from error
            connector = self._connector(connector_id)
            connector.tables = list(spec.tables)
            connector.excluded_columns = list(spec.excluded_columns)
            connector.settings = dict(spec.settings)
            db.session.commit()

    def pause(self, connector_id: str) -> ConnectorView:
        """Stop streaming; WAL accumulates in the slot until :meth:`resume`."""
        return self._switch(connector_id, ConnectorStatus.PAUSED)

    def resume(self, connector_id: str) -> ConnectorView:
        """Stream again from where the connector stopped."""
        return self._switch(connector_id, ConnectorStatus.AVAILABLE)

    def destroy(self, connector_id: str) -> ConnectorView:
        """Remove the connector, its offsets, slot, publication and role (the topics and
        their events stay with the Kafka resource). Safe to repeat.

        :raises ServiceUnavailable: a backend is down; the connector is still there.
        """
        postgres_uuid = self.postgres_uuid(connector_id)
        with request_lease(postgres_uuid):
            connector = self._connector(connector_id)
            if connector.status != ConnectorStatus.DEPROVISIONED:
                postgres = connector.postgres
                adapter = self._adapter(postgres, provisioned=False)
                ref = self._lifecycle.ref(postgres)
                db.session.commit()
                try:
                    change = adapter.destroy_connector(ref, connector_id)
                except AdapterError as error:
                    raise from_adapter_error(error) from error
                connector = self._connector(connector_id)
                self._lifecycle.store_state(connector.postgres, change.state)
                mark_gone(connector, "Destroyed.")
                db.session.commit()
        log.info("data connector destroyed", extra={"connector": connector_id})
        return self.get(connector_id)

    # --- internals --------------------------------------------------------------------------

    def _switch(self, connector_id: str, target: ConnectorStatus) -> ConnectorView:
        postgres_uuid = self.postgres_uuid(connector_id)
        with request_lease(postgres_uuid):
            connector = self._changeable(connector_id)
            adapter = self._adapter(connector.postgres)
            ref = self._lifecycle.ref(connector.postgres)
            db.session.commit()
            try:
                if target == ConnectorStatus.PAUSED:
                    adapter.pause_connector(ref, connector_id)
                else:
                    adapter.resume_connector(ref, connector_id)
            except AdapterError as error:
                raise from_adapter_error(error) from error
            connector = self._connector(connector_id)
            if connector.status != target:
                connector.status = target
                connector.status_reason = None
                events.data_connector_changed(connector)
            db.session.commit()
        return self.get(connector_id)

    def _views(self, postgres: Resource, connectors: list[DataConnector]) -> list[ConnectorView]:
        return live_views(self._lifecycle, postgres, connectors, self._max_paused_lag)

    def _check_limits(self, postgres: Resource, connectors: int, tables: Sequence[str]) -> None:
        plan = self._lifecycle.plan_spec(postgres)
        max_connectors = int(plan.limits.get("max_connectors", 0))
        max_tables = int(plan.limits.get("max_connector_tables", 0))
        if connectors > max_connectors:
            raise Unprocessable(
                f"Plan {plan.slug} allows {max_connectors} data connectors (max_connectors) "
                f"and this database has {connectors - 1}; destroy one or upgrade the plan."
            )
        if len(tables) > max_tables:
            raise Unprocessable(
                f"Plan {plan.slug} allows {max_tables} tables per data connector "
                f"(max_connector_tables); this connector names {len(tables)}."
            )

    def _adapter(self, postgres: Resource, *, provisioned: bool = True) -> DataConnectors:
        if provisioned and postgres.state != ResourceState.PROVISIONED:
            raise Unprocessable(f"The database is {postgres.state}; try again once it is ready.")
        adapter = self._lifecycle.adapter(postgres)
        if not isinstance(adapter, DataConnectors):
            raise Unprocessable(f"{postgres.addon.name} resources have no data connectors.")
        return adapter

    def resource(self, uuid: str) -> Resource:
        """The resource ``uuid``. :raises NotFound: no such resource."""
        return self._resource(uuid)

    def _resource(self, uuid: str) -> Resource:
        resource = db.session.scalar(
            select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
        )
        if resource is None:
            raise NotFound("No resource with this uuid.")
        return resource

    def _connector(self, connector_id: str) -> DataConnector:
        connector = db.session.scalar(
            select(DataConnector)
            .where(DataConnector.id == connector_id)
            .execution_options(populate_existing=True)
        )
        if connector is None:
            raise NotFound("No data connector with this id.")
        return connector

    def _changeable(self, connector_id: str) -> DataConnector:
        connector = self._connector(connector_id)
        settle([connector])
        if connector.status == ConnectorStatus.DEPROVISIONED:
            raise NotFound(f"The data connector was destroyed. {connector.status_reason or ''}")
        return connector

    def _live(self, postgres: Resource) -> list[DataConnector]:
        connectors = list(
            db.session.scalars(
                select(DataConnector)
                .where(
                    DataConnector.postgres_resource_id == postgres.id,
                    DataConnector.status != ConnectorStatus.DEPROVISIONED,
                )
                .order_by(DataConnector.created_at)
            )
        )
        settle(connectors)
        return [c for c in connectors if c.status != ConnectorStatus.DEPROVISIONED]

    def _live_on_kafka(self, kafka: Resource) -> list[DataConnector]:
        return list(
            db.session.scalars(
                select(DataConnector).where(
                    DataConnector.kafka_resource_id == kafka.id,
                    DataConnector.status != ConnectorStatus.DEPROVISIONED,
                )
            )
        )
