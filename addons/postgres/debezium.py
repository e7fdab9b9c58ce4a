"""The Kafka Connect config of one data connector: Debezium's PostgreSQL connector.

Property names and meanings are Debezium 3.6's (``io.debezium.connector.postgresql``) and
Kafka Connect's (``producer.override.*``, ``transforms``, ``predicates``); see
``scripts/services/CONNECT_NOTES.md`` for why each matters:

* ``snapshot.mode=no_data``: stream changes from the slot's creation on (Heroku's connectors
  stream new changes only; no initial copy of the tables).
* ``database.sslmode``: ``DATA_CONNECTOR_SSLMODE``, or :func:`default_sslmode`.
* ``publication.autocreate.mode=disabled``: the broker made the publication (as the owner).
* ``producer.override.sasl.jaas.config``: the task's producer logs in as the Kafka tenant, so
  the tenant's ACLs (its prefix only) and quotas apply to every event. No ``topic.creation.*``:
  the broker creates the topics within the Kafka plan's caps, and the tenant may not.
* ``heartbeat.action.query`` writes a logical message into the tenant's own WAL every
  ``heartbeat.interval.ms``, so a quiet database's slot still advances and pins no WAL;
  ``message.prefix.exclude.list=.*`` keeps them (and any other logical message) out of
  Kafka. Debezium's heartbeat records go to ``<topic prefix>.heartbeat`` (a ``RegexRouter``
  renames Debezium's ``<heartbeat prefix>.<topic prefix>``), a topic the broker creates with
  the others. They cannot be dropped instead: with a ``Filter`` transform on them the slot's
  confirmed position stopped advancing (measured: lag grew from 30 kB to 147 MB in 25 s while
  other databases wrote WAL; without the filter it fell back).

The config holds two secrets (the connector role's password, the tenant's SCRAM password):
:func:`masked` is the only form that may be shown or logged.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from marketplace.adapters import ConnectorSpec, KafkaLogin

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
HEARTBEAT_MESSAGE_PREFIX = "marketplace-heartbeat"
DEFAULT_HEARTBEAT_MS = 2000
#: libpq's ``sslmode`` values, which Debezium's ``database.sslmode`` takes as they are.
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SECRET_KEYS = ("database.password", "producer.override.sasl.jaas.config")
MASK = "••••••••"
_SAFE_JAAS_VALUE = re.compile(r"^[A-Za-z0-9._@-]+$")


def connector_config(
    *,
    name: str,
    host: str,
    port: str,
    database: str,
    password: str,
    connector: ConnectorSpec,
    kafka: KafkaLogin,
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS,
    sslmode: str = "prefer",
) -> dict[str, str]:
    """The connector's config. ``name`` is the connector's backend name: its Connect name,
    role (``database.user``), slot and publication.

    :raises ValueError: the Kafka login has characters a JAAS string cannot carry safely.
    """
    heartbeat_prefix = f"{connector.topic_prefix(kafka)}.heartbeat"
    config = {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": host,
        "database.port": port,
        "database.user": name,
        "database.password": password,
        "database.dbname": database,
        "database.sslmode": sslmode,
        "slot.name": name,
        "publication.name": name,
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": "no_data",
        "topic.prefix": connector.topic_prefix(kafka),
        "table.include.list": ",".join(_exact(table) for table in connector.tables),
        "producer.override.sasl.jaas.config": jaas(kafka),
        # Latency and throughput (bench/data_connector.py): wait at most 50 ms for new
        # changes, hand Connect batches twice Debezium's default (16,384/65,536 was no faster
        # in alternating runs, 0.50-0.52x against 0.55-0.59x, and holds four times as many
        # events in the worker's heap), and let the producer batch and compress them.
        "poll.interval.ms": "50",
        "max.batch.size": "4096",
        "max.queue.size": "16384",
        "producer.override.linger.ms": "20",
        "producer.override.batch.size": "524288",
        # Compressed batches count less against the tenant's producer byte-rate quota.
        "producer.override.compression.type": "lz4",
        "heartbeat.interval.ms": str(heartbeat_ms),
        "heartbeat.action.query": (
            f"SELECT pg_catalog.pg_logical_emit_message(false, '{HEARTBEAT_MESSAGE_PREFIX}',"
            " now()::text)"
        ),
        # No logical message is published: not the heartbeats, and not a tenant's own
        # pg_logical_emit_message calls (their topic would not exist and fail the task).
        "message.prefix.exclude.list": ".*",
        "topic.heartbeat.prefix": heartbeat_prefix,
        "transforms": "heartbeatTopic",
        "transforms.heartbeatTopic.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.heartbeatTopic.regex": re.escape(
            f"{heartbeat_prefix}.{connector.topic_prefix(kafka)}"
        ),
        "transforms.heartbeatTopic.replacement": connector.heartbeat_topic(kafka),
    }
    if connector.excluded_columns:
        config["column.exclude.list"] = ",".join(
            _exact(column) for column in connector.excluded_columns
        )
    config.update(connector.settings)
    return config


def default_sslmode(host: str) -> str:
    """``disable`` for a loopback ``host`` (name or address), else ``prefer`` (libpq's and
    Debezium's default).

    On loopback, TLS guards against nothing (whoever can read that traffic is root on the
    host), and it cost a fifth of a connector's bulk throughput (bench/data_connector.py: 62,000
    against 78,000 events/s).
    """
    name = host.strip("[]")
    if name == "localhost":
        return "disable"
    try:
        return "disable" if ipaddress.ip_address(name).is_loopback else "prefer"
    except ValueError:
        return "prefer"


def jaas(kafka: KafkaLogin) -> str:
    """The SCRAM login module line for the tenant's user.

    :raises ValueError: the user name or password could break out of the quotes.
    """
    if not (_SAFE_JAAS_VALUE.match(kafka.username) and _SAFE_JAAS_VALUE.match(kafka.password)):
        raise ValueError("the Kafka tenant's credentials have characters JAAS cannot carry")
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{kafka.username}" password="{kafka.password}";'
    )


def masked(config: Mapping[str, str]) -> dict[str, str]:
    """``config`` with every secret replaced by a mask: safe for pages, logs and answers."""
    return {key: (MASK if key in SECRET_KEYS else value) for key, value in config.items()}


def _exact(name: str) -> str:
    """Debezium's include/exclude lists are anchored regular expressions: match ``name``
    (``schema.table`` or ``schema.table.column``) exactly."""
    return re.escape(name)
