"""The data connectors capability: change data capture from a resource into a Kafka tenant.

An adapter that offers it (the Postgres adapter, on Debezium in Kafka Connect) manages, per
connector, what the capture needs on its own backend (a replication role, publication and
slot) and the connector in Kafka Connect. The core owns the rest: the connector rows, the
link to the Kafka resource (a :class:`~marketplace.models.ResourceLink` named
``kafka:<connector id>``), the Kafka topics (created through the Kafka adapter within its
plan's caps), plan limits, authorization and the API.

Each call that adds or removes a connector returns the adapter's new private state (it lists
the resource's connectors, so :meth:`Reconciliation.objects_of` and removal can find their
objects); the core stores it like any other result's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from marketplace.adapters.values import ResourceRef


@dataclass(frozen=True)
class KafkaLogin:
    """Where a connector writes and as whom: the Kafka tenant's topic prefix (``<stem>.``),
    SCRAM user and password (from the Kafka resource's ``KAFKA_PREFIX``, ``KAFKA_USERNAME``
    and ``KAFKA_PASSWORD`` config vars)."""

    prefix: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class ConnectorSpec:
    """One connector as the customer asked for it.

    ``tables`` are ``schema.table`` names, ``excluded_columns`` ``schema.table.column``
    names (each of a captured table), ``settings`` Debezium properties from the allow-list
    (:data:`ALLOWED_SETTINGS`). Events go to ``<kafka.prefix><name>.<schema>.<table>``.
    """

    id: str
    name: str
    tables: tuple[str, ...]
    excluded_columns: tuple[str, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict)

    def topic_prefix(self, kafka: KafkaLogin) -> str:
        """Debezium's ``topic.prefix``: ``<kafka prefix><name>``."""
        return f"{kafka.prefix}{self.name}"

    def heartbeat_topic(self, kafka: KafkaLogin) -> str:
        """The topic of the connector's heartbeats (small records every few seconds that
        keep a quiet database's replication slot moving)."""
        return f"{self.topic_prefix(kafka)}.heartbeat"

    def topic_of(self, kafka: KafkaLogin, table: str) -> str:
        """The topic that receives ``table``'s (``schema.table``) change events."""
        return f"{self.topic_prefix(kafka)}.{table}"


#: Debezium properties a customer may set, with the values each accepts (Heroku's documented
#: ``--setting`` keys; anything else could change where or as whom the connector works).
ALLOWED_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "decimal.handling.mode": ("precise", "double", "string"),
    "hstore.handling.mode": ("json", "map"),
    "time.precision.mode": ("adaptive", "adaptive_time_microseconds", "connect"),
    "interval.handling.mode": ("numeric", "string"),
    "binary.handling.mode": ("bytes", "base64", "base64-url-safe", "hex"),
    "tombstones.on.delete": ("true", "false"),
}


@dataclass(frozen=True)
class ConnectorHealth:
    """What the backends say about one connector right now.

    ``state`` is Kafka Connect's (``RUNNING``, ``PAUSED``, ``STOPPED``, ``FAILED``,
    ``UNASSIGNED``, ``RESTARTING``) or ``MISSING`` when Connect has no such connector;
    ``reason`` is the first line of a failure trace; ``slot_active`` whether a WAL sender
    streams from the connector's replication slot (Connect's RUNNING alone does not mean
    that); ``lag_bytes`` the WAL between the server's current position and what the
    connector confirmed (None: no slot); ``wal_status`` PostgreSQL's (``reserved``,
    ``extended``, ``unreserved``, ``lost``).
    """

    state: str
    reason: str | None = None
    slot_active: bool = False
    lag_bytes: int | None = None
    wal_status: str | None = None


@dataclass(frozen=True)
class ConnectorChange:
    """What adding or removing a connector hands back: a message and the new private state."""

    message: str
    state: Mapping[str, Any] | None = None


@runtime_checkable
class DataConnectors(Protocol):
    """Change data capture of a resource's tables into a Kafka tenant's topics."""

    def check_capture(
        self, resource: ResourceRef, tables: Sequence[str], excluded_columns: Sequence[str]
    ) -> None:
        """Check that every table exists in the resource and may be captured, and every
        excluded column exists.

        :raises ProvisionRejected: a name is malformed, missing or not the tenant's.
        :raises BackendUnavailable: the database is down.
        """
        ...

    def create_connector(
        self, resource: ResourceRef, connector: ConnectorSpec, kafka: KafkaLogin
    ) -> ConnectorChange:
        """Make the connector's backend objects and start it; on failure remove what this
        call made before raising, so nothing is left half-made.

        :raises ProvisionRejected: Kafka Connect refused the connector.
        :raises BackendUnavailable: the database or Kafka Connect is down.
        """
        ...

    def update_connector(
        self, resource: ResourceRef, connector: ConnectorSpec, kafka: KafkaLogin
    ) -> None:
        """Apply new tables, excluded columns or settings (and the Kafka tenant's current
        credentials) to a running connector.

        :raises ProvisionRejected: Kafka Connect refused the config; nothing changed.
        :raises BackendUnavailable: the database or Kafka Connect is down.
        """
        ...

    def pause_connector(self, resource: ResourceRef, connector_id: str) -> None:
        """Pause streaming (the slot keeps WAL meanwhile).

        :raises BackendUnavailable: Kafka Connect is down.
        """
        ...

    def resume_connector(self, resource: ResourceRef, connector_id: str) -> None:
        """Resume streaming from where the connector stopped.

        :raises BackendUnavailable: Kafka Connect is down.
        """
        ...

    def destroy_connector(self, resource: ResourceRef, connector_id: str) -> ConnectorChange:
        """Remove the connector (and its offsets), its slot, publication and role. Safe to
        repeat; missing objects are fine.

        :raises BackendUnavailable: the database or Kafka Connect is down.
        """
        ...

    def connector_health(
        self, resource: ResourceRef, connector_ids: Sequence[str]
    ) -> Mapping[str, ConnectorHealth]:
        """The health of each connector, by id.

        :raises BackendUnavailable: the database or Kafka Connect is down.
        """
        ...


__all__ = [
    "ALLOWED_SETTINGS",
    "ConnectorChange",
    "ConnectorHealth",
    "ConnectorSpec",
    "DataConnectors",
    "KafkaLogin",
]
