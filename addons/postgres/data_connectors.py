"""Streaming data connectors of a Postgres resource: change data capture into a Kafka tenant,
on Debezium's PostgreSQL connector in Apache Kafka Connect (issue 15).

:class:`DataConnectorsMixin` gives :class:`~addons.postgres.adapter.PostgresAdapter` the
:class:`~marketplace.adapters.DataConnectors` and :class:`~marketplace.adapters.Linking`
capabilities, and the connector part of its reconciliation and removal.

Names: every object of one connector (its Kafka Connect connector, replication role, slot and
publication) is called ``<prefix>c_<12 hex of the resource id's sha256><12 hex of the
connector id's sha256>``, so all of a resource's connector objects share the stem
``<prefix>c_<12 hex>`` and removal finds them without any stored state. The connector role's
password is generated for each config write and kept only in Kafka Connect's config (the
broker never stores it); see :mod:`addons.postgres.capture` for the privileges.

The adapter's private state lists the resource's connectors: ``{"data_connectors": [<id>,
...]}``, so :meth:`connector_objects_of` tells the reconciler which objects are owned.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from addons.postgres import capture
from addons.postgres.capacity import connection_room
from addons.postgres.connections import AdminConnections
from addons.postgres.connector_orphans import find_connector_objects
from addons.postgres.debezium import (
    DEFAULT_HEARTBEAT_MS,
    SSLMODES,
    connector_config,
    default_sslmode,
)
from addons.postgres.kafka_connect import KafkaConnectClient
from addons.postgres.removal import drop_role
from marketplace.adapters import (
    ActionResult,
    BackendObject,
    BackendUnavailable,
    ConnectorChange,
    ConnectorHealth,
    ConnectorSpec,
    KafkaLogin,
    LinkedResource,
    PlanChangeRejected,
    PlanSpec,
    ProvisionRejected,
    ResourceRef,
    random_password,
)

log = logging.getLogger(__name__)

DEFAULT_KAFKA_CONNECT_URL = "http://127.0.0.1:8083"
STATE_KEY = "data_connectors"
LINK_PREFIX = "kafka:"
CONNECTOR_KINDS = ("connector", "slot", "publication")
STOP_WAIT_SECONDS = 15.0
_POLL_SECONDS = 0.1


class DataConnectorsMixin:
    """Data connectors for the Postgres adapter; see the module docstring."""

    _connections: AdminConnections
    _prefix: str
    _reserved: int
    _public_host: str
    _kafka_connect = KafkaConnectClient(DEFAULT_KAFKA_CONNECT_URL)
    _heartbeat_ms = DEFAULT_HEARTBEAT_MS
    _sslmode: str | None = None

    def configure_data_connectors(
        self,
        kafka_connect_url: str,
        heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
        sslmode: str | None = None,
    ) -> None:
        """Use the Kafka Connect cluster at ``kafka_connect_url`` (any of its workers).

        ``sslmode`` is libpq's (``disable`` ... ``verify-full``) for the connectors'
        replication connections; ``None`` picks one from the host (:func:`default_sslmode`).

        :raises ValueError: ``sslmode`` is not one of libpq's.
        """
        if sslmode is not None and sslmode not in SSLMODES:
            raise ValueError(f"DATA_CONNECTOR_SSLMODE must be one of {', '.join(SSLMODES)}")
        self._kafka_connect = KafkaConnectClient(kafka_connect_url)
        self._heartbeat_ms = heartbeat_ms
        self._sslmode = sslmode

    # Provided by PostgresAdapter.
    def _database_name(self, resource_id: str) -> str:
        raise NotImplementedError

    def _role_name(self, resource_id: str) -> str:
        raise NotImplementedError

    # --- DataConnectors ---------------------------------------------------------------------

    def check_capture(
        self, resource: ResourceRef, tables: Sequence[str], excluded_columns: Sequence[str]
    ) -> None:
        """See :meth:`marketplace.adapters.DataConnectors.check_capture`."""
        with self._connections.database(self._database_name(resource.resource_id)) as conn:
            capture.check_capture(
                conn, self._role_name(resource.resource_id), tables, excluded_columns
            )

    def create_connector(
        self, resource: ResourceRef, connector: ConnectorSpec, kafka: KafkaLogin
    ) -> ConnectorChange:
        """Role, grants, publication, slot, then the connector; on any failure, undo it all."""
        self.check_capture(resource, connector.tables, connector.excluded_columns)
        try:
            self._write_connector(resource, connector, kafka, new=True)
        except BaseException:
            name = self._connector_name(resource.resource_id, connector.id)
            try:
                self._teardown(
                    name, self._database_name(resource.resource_id), connect_required=False
                )
            except BackendUnavailable:  # the reconciler finds what is left as orphans
                log.warning("a failed connector could not be fully removed")
            raise
        ids = [*_listed(resource.state), connector.id]
        return ConnectorChange(
            f"Data connector {connector.name} is being created.",
            state={**resource.state, STATE_KEY: sorted(set(ids))},
        )

    def update_connector(
        self, resource: ResourceRef, connector: ConnectorSpec, kafka: KafkaLogin
    ) -> None:
        """New tables, columns or settings; a fresh role password; the tenant's current
        Kafka credentials."""
        self.check_capture(resource, connector.tables, connector.excluded_columns)
        self._write_connector(resource, connector, kafka, new=False)

    def pause_connector(self, resource: ResourceRef, connector_id: str) -> None:
        """Stop the connector's tasks (Connect's ``stop``: the WAL sender goes away and the
        slot keeps WAL until resumed)."""
        self._kafka_connect.stop(self._connector_name(resource.resource_id, connector_id))

    def resume_connector(self, resource: ResourceRef, connector_id: str) -> None:
        """Start the tasks again; they continue from the last committed offset."""
        self._kafka_connect.resume(self._connector_name(resource.resource_id, connector_id))

    def destroy_connector(self, resource: ResourceRef, connector_id: str) -> ConnectorChange:
        """Connector and offsets, slot, publication, role: see :meth:`_teardown`."""
        self._teardown(
            self._connector_name(resource.resource_id, connector_id),
            self._database_name(resource.resource_id),
        )
        remaining = [cid for cid in _listed(resource.state) if cid != connector_id]
        return ConnectorChange(
            "The data connector was destroyed.", state={**resource.state, STATE_KEY: remaining}
        )

    def connector_health(
        self, resource: ResourceRef, connector_ids: Sequence[str]
    ) -> Mapping[str, ConnectorHealth]:
        """Kafka Connect's status and the slot's facts, per connector id."""
        names = {cid: self._connector_name(resource.resource_id, cid) for cid in connector_ids}
        with self._connections.maintenance() as conn:
            slots = capture.slot_facts(conn, list(names.values()))
        health = {}
        for cid, name in names.items():
            status = self._kafka_connect.status(name)
            active, lag, wal, _ = slots.get(name, (False, None, None, ""))
            if status is None:
                health[cid] = ConnectorHealth("MISSING", "Kafka Connect has no such connector.")
                continue
            tasks = {task.state for task in status.tasks}
            state = "FAILED" if status.failure else status.state
            if state == "RUNNING" and tasks and tasks != {"RUNNING"}:
                state = sorted(tasks - {"RUNNING"})[0]
            health[cid] = ConnectorHealth(state, status.failure, active, lag, wal)
        return health

    def check_connectors_fit(self, resource: ResourceRef, new_plan: PlanSpec) -> None:
        """A plan change must leave room for the resource's connectors and their tables
        (counted in their publications).

        :raises PlanChangeRejected: over ``new_plan``'s ``max_connectors`` or, for a
            connector, its ``max_connector_tables``.
        """
        names = [self._connector_name(resource.resource_id, c) for c in _listed(resource.state)]
        allowed, max_tables = (
            int(new_plan.limits.get(key, 0)) for key in ("max_connectors", "max_connector_tables")
        )
        if len(names) > allowed:
            raise PlanChangeRejected(
                f"The database has {len(names)} data connectors and plan {new_plan.slug} "
                f"allows {allowed} (max_connectors); destroy some first."
            )
        with self._connections.database(self._database_name(resource.resource_id)) as conn:
            widest = capture.most_published_tables(conn, names) if names else 0
        if widest > max_tables:
            raise PlanChangeRejected(
                f"A data connector of this database captures {widest} tables and plan "
                f"{new_plan.slug} allows {max_tables} per connector (max_connector_tables); "
                "remove tables from it first."
            )

    # --- Linking ----------------------------------------------------------------------------

    def link_attached(self, resource: ResourceRef, target: LinkedResource) -> ActionResult:
        """Links to Kafka resources are made by creating a data connector."""
        if target.addon != "kafka":
            raise ProvisionRejected("PostgreSQL resources link to Kafka resources only.")
        return ActionResult("Linked. Create a data connector to stream changes to it.")

    def link_removed(self, resource: ResourceRef, link: str) -> ActionResult:
        """The Kafka resource of connector ``kafka:<id>`` is going away: destroy the
        connector (its events have nowhere to go). The database itself is unaffected."""
        if not link.startswith(LINK_PREFIX):
            return ActionResult(f"Unlinked {link}.")
        change = self.destroy_connector(resource, link.removeprefix(LINK_PREFIX))
        return ActionResult(
            "A data connector was destroyed because its Kafka resource was removed; the "
            "database is unaffected.",
            state=change.state,
        )

    # --- removal and reconciliation ---------------------------------------------------------

    def destroy_all_connectors(self, resource: ResourceRef) -> None:
        """Before the database goes: remove every connector object of ``resource``, found by
        name (no state needed). Kafka Connect being down does not block the removal: the
        connectors left there are orphans for the reconciler."""
        stem = self._connector_stem(resource.resource_id)
        with self._connections.maintenance() as conn:
            found = {
                str(row[0])
                for row in conn.execute(
                    "SELECT slot_name FROM pg_catalog.pg_replication_slots"
                    " WHERE starts_with(slot_name, %(s)s) UNION SELECT rolname"
                    " FROM pg_catalog.pg_roles WHERE starts_with(rolname, %(s)s)",
                    {"s": stem},
                ).fetchall()
            }
        names = found | {
            self._connector_name(resource.resource_id, cid) for cid in _listed(resource.state)
        }
        if not names:
            return
        try:
            names |= {n for n in self._kafka_connect.connector_names() if n.startswith(stem)}
        except BackendUnavailable:
            log.warning("Kafka Connect is down: its connectors of a removed database remain")
        database = self._database_name(resource.resource_id)
        for name in sorted(names):
            self._teardown(name, database, connect_required=False)

    def connector_objects_of(self, resource: ResourceRef) -> set[BackendObject]:
        """The connector objects a live resource owns (its state lists its connectors)."""
        database = self._database_name(resource.resource_id)
        owned: set[BackendObject] = set()
        for cid in _listed(resource.state):
            name = self._connector_name(resource.resource_id, cid)
            owned |= {
                BackendObject("connector", name),
                BackendObject("slot", name),
                BackendObject("publication", f"{database}/{name}"),
                BackendObject("role", name),
            }
        return owned

    def connector_owned(self) -> list[BackendObject]:
        """Connectors (Kafka Connect), slots and publications named ``<prefix>c_…`` (see
        :func:`addons.postgres.connector_orphans.find_connector_objects`)."""
        return find_connector_objects(self._connections, self._kafka_connect, f"{self._prefix}c_")

    def remove_connector_orphan(self, orphan: BackendObject) -> bool:
        """Remove an orphaned connector, slot or publication; False for other kinds.

        :raises ValueError: the object does not carry this broker's connector prefix.
        """
        if orphan.kind not in CONNECTOR_KINDS:
            return False
        database, _, name = orphan.name.rpartition("/")
        if not name.startswith(f"{self._prefix}c_"):
            raise ValueError(f"{orphan} is not a data connector object of this broker")
        if orphan.kind == "connector":
            self._kafka_connect.remove(name, STOP_WAIT_SECONDS)
        elif orphan.kind == "slot":
            with self._connections.maintenance() as conn:
                self._drop_slot(conn, name)
        else:
            with self._connections.database(database) as conn:
                capture.drop_publication(conn, name)
        return True

    # --- internals --------------------------------------------------------------------------

    def _connector_stem(self, resource_id: str) -> str:
        return f"{self._prefix}c_{_hex(resource_id)}"

    def _connector_name(self, resource_id: str, connector_id: str) -> str:
        return f"{self._connector_stem(resource_id)}{_hex(connector_id)}"

    def _write_connector(
        self, resource: ResourceRef, connector: ConnectorSpec, kafka: KafkaLogin, *, new: bool
    ) -> None:
        rid = resource.resource_id
        name, database = self._connector_name(rid, connector.id), self._database_name(rid)
        if new:
            self._kafka_connect.version()  # Connect down: fail before anything exists
            with self._connections.maintenance() as conn:
                room = connection_room(conn, self._prefix, self._reserved, name)
            if room < capture.CONNECTOR_CONNECTION_LIMIT:
                raise ProvisionRejected(
                    f"This PostgreSQL server has room for {max(room, 0)} more connections; a "
                    f"data connector needs {capture.CONNECTOR_CONNECTION_LIMIT}. Ask the "
                    "operator for capacity."
                )
        password = random_password(40)
        with self._connections.database(capture.OPS_DATABASE) as conn:
            capture.create_role(conn, name, password)
        with self._connections.database(database) as conn:
            capture.grant_and_publish(
                conn, database, self._role_name(rid), name, name, connector.tables
            )
            capture.create_slot(conn, name, name)
        host, _, port = self._public_host.rpartition(":")
        config = connector_config(
            name=name,
            host=host,
            port=port or "5432",
            database=database,
            password=password,
            connector=connector,
            kafka=kafka,
            heartbeat_ms=self._heartbeat_ms,
            sslmode=self._sslmode or default_sslmode(host),
        )
        self._kafka_connect.create(name, config)
        log.info("data connector configured", extra={"connector": name, "new": new})

    def _teardown(self, name: str, database: str, *, connect_required: bool = True) -> None:
        """Stop the connector, reset its offsets and delete it; then drop its slot (ending
        the WAL sender if Connect did not), its publication and its role."""
        try:
            self._kafka_connect.remove(name, STOP_WAIT_SECONDS)
        except BackendUnavailable:
            if connect_required:
                raise
        with self._connections.maintenance() as conn:
            self._drop_slot(conn, name)
            exists = conn.execute(
                "SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (database,)
            ).fetchone()
        if exists:
            with self._connections.database(database) as conn:
                capture.drop_publication(conn, name)
        with self._connections.maintenance() as conn:
            drop_role(conn, self._connections, name)

    def _drop_slot(self, conn: Any, slot: str) -> None:
        """End the slot's WAL sender and drop the slot as its role (re-made if it is gone:
        only a REPLICATION role may drop a slot)."""
        present = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
        if present is None:
            return
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while time.monotonic() < deadline:
            capture.end_wal_senders(conn, [slot])
            active = conn.execute(
                "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if not active or not active[0]:
                break
            time.sleep(_POLL_SECONDS)
        made_role = (
            conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (slot,)).fetchone()
            is None
        )
        if made_role:
            with self._connections.database(capture.OPS_DATABASE) as ops:
                capture.create_role(ops, slot, random_password(40))
        capture.drop_slot(conn, slot, slot)
        if made_role:
            drop_role(conn, self._connections, slot)


def _hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _listed(state: Mapping[str, Any]) -> list[str]:
    ids = state.get(STATE_KEY) or []
    return [str(cid) for cid in ids] if isinstance(ids, list) else []
