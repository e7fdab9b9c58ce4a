"""Finding every data connector object on the backends, for the reconciler's orphan sweep.

Objects are found by name alone (``<prefix>c_…``, see :mod:`addons.postgres.data_connectors`),
so objects whose resource is gone from the store are found too.
"""

from __future__ import annotations

import logging

from addons.postgres.connections import AdminConnections
from addons.postgres.kafka_connect import KafkaConnectClient
from marketplace.adapters import BackendObject, BackendUnavailable

log = logging.getLogger(__name__)


def find_connector_objects(
    connections: AdminConnections, kafka_connect: KafkaConnectClient, stem: str
) -> list[BackendObject]:
    """Connectors (Kafka Connect), slots and publications whose names start with ``stem``.

    Roles are among the adapter's roles already. Publications are looked for in the
    databases that hold such a slot or where such a role holds a grant (a publication is
    dropped before its role, so no other database can have one). A database dropped
    meanwhile is skipped; Kafka Connect being down leaves connectors out (logged).
    """
    found: set[BackendObject] = set()
    with connections.maintenance() as conn:
        rows = conn.execute(
            "SELECT slot_name, database FROM pg_catalog.pg_replication_slots"
            " WHERE starts_with(slot_name, %s)",
            (stem,),
        ).fetchall()
        databases = {str(db) for _, db in rows if db}
        found |= {BackendObject("slot", str(name)) for name, _ in rows}
        databases |= {
            str(row[0])
            for row in conn.execute(
                "SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s"
                " JOIN pg_catalog.pg_database d ON d.oid = s.dbid"
                " JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid"
                " WHERE starts_with(r.rolname, %s)",
                (stem,),
            ).fetchall()
        }
    for database in sorted(databases):
        try:
            with connections.database(database) as conn:
                found |= {
                    BackendObject("publication", f"{database}/{row[0]}")
                    for row in conn.execute(
                        "SELECT pubname FROM pg_catalog.pg_publication"
                        " WHERE starts_with(pubname, %s)",
                        (stem,),
                    ).fetchall()
                }
        except BackendUnavailable:  # dropped meanwhile
            continue
    try:
        found |= {
            BackendObject("connector", name)
            for name in kafka_connect.connector_names()
            if name.startswith(stem)
        }
    except BackendUnavailable:
        log.warning("Kafka Connect is down: its connectors are not listed")
    return sorted(found)
