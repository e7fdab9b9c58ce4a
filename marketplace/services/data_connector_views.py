"""Data connectors as callers see them: request validation, live status, JSON shape.

The JSON shape is Heroku's data connectors API's connector object (``uuid``, ``name``,
``status``, ``lag``, ``tables``, ``excluded_columns``, ``topics[{table_name, topic_name}]``,
``kafka_addon{name, uuid}``, ``kafka_app{name}``, ``postgres_addon{name, uuid}``,
``postgres_app{name}``, ``created_at``; see
``shared/reference/connect.md`` section 4.1) plus ``lag_bytes``, ``status_reason``,
``streaming``, ``lag_exceeded`` and ``settings``. Nothing in it is secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marketplace.adapters import ALLOWED_SETTINGS, ConnectorHealth, ConnectorSpec, KafkaLogin
from marketplace.errors import Unprocessable
from marketplace.models import ConnectorStatus, DataConnector
from marketplace.models._types import as_utc, utcnow

NAME = re.compile(r"[a-z][a-z0-9_-]{0,47}")
#: The fields a request may carry. ``kafka_addon_uuid`` is Heroku's name for ``kafka``;
#: Heroku's ``POST /kafka_tenants/<kafka>`` body names the database in ``postgres_addon_uuid``
#: and carries ``platform_version`` (taken, and ignored: there is one Debezium here).
CREATE_FIELDS = (
    "kafka",
    "kafka_addon_uuid",
    "postgres_addon_uuid",
    "tables",
    "excluded_columns",
    "name",
    "settings",
    "platform_version",
)
UPDATE_FIELDS = ("tables", "excluded_columns", "settings")
MAX_NAMES = 200
MAX_NAME_LENGTH = 200
CREATION_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class ConnectorRequest:
    """A create or update request, checked for shape (existence is the adapter's to check).
    ``None`` fields are not changed by an update."""

    name: str | None = None
    kafka: str | None = None
    postgres: str | None = None
    tables: tuple[str, ...] | None = None
    excluded_columns: tuple[str, ...] | None = None
    settings: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ConnectorView:
    """One connector with its live status. ``lag_bytes`` is the slot's lag (None when
    unknown); ``lag_exceeded`` flags a paused connector whose lag passed the operator's
    threshold (``CDC_MAX_PAUSED_LAG_BYTES``)."""

    uuid: str
    name: str
    status: str
    status_reason: str | None
    streaming: bool
    lag_bytes: int | None
    lag_exceeded: bool
    tables: tuple[str, ...]
    excluded_columns: tuple[str, ...]
    settings: Mapping[str, str]
    topics: tuple[tuple[str, str], ...]
    kafka: tuple[str, str]
    postgres: tuple[str, str]
    created_at: datetime
    kafka_app: str | None = None
    postgres_app: str | None = None

    @property
    def lag(self) -> str:
        """The lag in words, as Heroku shows it (``< 1 MB``, ``12.3 MB``), or ``unknown``."""
        return human_bytes(self.lag_bytes)


def parse_request(body: Any, *, creating: bool) -> ConnectorRequest:
    """Check a JSON body's shape: ``{"kafka", "tables", "excluded_columns", "name",
    "settings"}`` (``kafka`` and ``tables`` required to create).

    :raises Unprocessable: what is wrong, said plainly.
    """
    if not isinstance(body, dict):
        raise Unprocessable("Send a JSON object.")
    _check_fields(body, creating=creating)
    kafka = body.get("kafka", body.get("kafka_addon_uuid"))
    if creating and (not isinstance(kafka, str) or not kafka.strip()):
        raise Unprocessable('Name the Kafka resource: "kafka": "<uuid or resource name>".')
    name = body.get("name") or None  # Heroku's clients send "" for "generate one"
    if name is not None and (not isinstance(name, str) or not NAME.fullmatch(name)):
        raise Unprocessable(
            "A connector name is 1 to 48 of a-z, 0-9, _ and -, starting with a letter."
        )
    postgres = body.get("postgres_addon_uuid")
    if postgres is not None and (not isinstance(postgres, str) or not postgres.strip()):
        raise Unprocessable('"postgres_addon_uuid" is the Postgres resource\'s uuid.')
    version = body.get("platform_version")
    if version is not None and not isinstance(version, str):
        raise Unprocessable('"platform_version" must be a string.')
    tables = _names(body, "tables")
    if creating and not tables:
        raise Unprocessable('Name at least one table: "tables": ["schema.table"].')
    if tables is not None and not tables:
        raise Unprocessable("A connector captures at least one table.")
    return ConnectorRequest(
        name=name,
        kafka=kafka.strip() if isinstance(kafka, str) else None,
        postgres=postgres.strip() if isinstance(postgres, str) else None,
        tables=tables,
        excluded_columns=_names(body, "excluded_columns"),
        settings=_settings(body.get("settings")),
    )


def _check_fields(body: Mapping[str, Any], *, creating: bool) -> None:
    """:raises Unprocessable: a field this request does not take (a misspelt
    ``excluded_columns`` must not silently capture the column it meant to leave out)."""
    allowed = CREATE_FIELDS if creating else UPDATE_FIELDS
    unknown = [str(key) for key in body if key not in allowed]
    if not unknown:
        return
    if not creating and set(unknown) <= {"name", "kafka", "kafka_addon_uuid"}:
        raise Unprocessable(
            "A data connector's name and Kafka resource cannot be changed; destroy it and "
            "create a new one."
        )
    raise Unprocessable(
        f"Unknown field {unknown[0][:60]!r}; this request takes: {', '.join(allowed)}."
    )


def spec_of(connector: DataConnector) -> ConnectorSpec:
    """The adapter's view of a connector row."""
    return ConnectorSpec(
        id=connector.id,
        name=connector.name,
        tables=tuple(connector.tables),
        excluded_columns=tuple(connector.excluded_columns),
        settings={str(k): str(v) for k, v in (connector.settings or {}).items()},
    )


def login_of(kafka_config: Mapping[str, str]) -> KafkaLogin:
    """The Kafka tenant's prefix and SCRAM login, from its config vars.

    :raises Unprocessable: the Kafka resource has no credentials (yet).
    """
    try:
        return KafkaLogin(
            kafka_config["KAFKA_PREFIX"],
            kafka_config["KAFKA_USERNAME"],
            kafka_config["KAFKA_PASSWORD"],
        )
    except KeyError as missing:
        raise Unprocessable("The Kafka resource has no credentials yet.") from missing


def live_status(
    connector: DataConnector, health: ConnectorHealth | None
) -> tuple[str, str | None, bool]:
    """``(status, reason, streaming)`` from the stored status and the backends' health.

    Kafka Connect's RUNNING alone is not "available": the slot must be in use, otherwise
    the connector is still ``creating`` (never streamed yet) or reconnecting.
    """
    stored = ConnectorStatus(connector.status)
    if stored == ConnectorStatus.DEPROVISIONED or health is None:
        return stored, connector.status_reason, False
    if health.state == "MISSING":
        # Kafka Connect answers 404 for a moment after a connector's config was written.
        young = utcnow() - as_utc(connector.created_at) < CREATION_GRACE
        if stored == ConnectorStatus.CREATING and young:
            return ConnectorStatus.CREATING, None, False
        return ConnectorStatus.ERROR, health.reason, False
    if health.state == "FAILED":
        return ConnectorStatus.ERROR, health.reason, False
    if health.wal_status == "lost":
        return (
            ConnectorStatus.ERROR,
            "The replication slot was invalidated: it held more WAL than the server keeps. "
            "Destroy the connector and create a new one.",
            False,
        )
    if stored == ConnectorStatus.PAUSED:
        # Paused by the broker: Kafka Connect stops the tasks shortly after it answered.
        return ConnectorStatus.PAUSED, None, False
    if health.state in ("STOPPED", "PAUSED"):
        # Resumed by the broker: Kafka Connect starts the tasks shortly after it answered
        # (Heroku's clients wait for paused -> available; they must not see paused again).
        return (
            ConnectorStatus.CREATING
            if stored == ConnectorStatus.CREATING
            else ConnectorStatus.AVAILABLE,
            "Resuming: Kafka Connect is starting the connector's tasks.",
            False,
        )
    if health.slot_active:
        return ConnectorStatus.AVAILABLE, None, True
    if stored in (ConnectorStatus.CREATING, ConnectorStatus.PAUSED):
        return ConnectorStatus.CREATING, None, False
    return (
        ConnectorStatus.AVAILABLE,
        "Reconnecting: Kafka Connect runs the connector but it is not streaming right now.",
        False,
    )


def view_of(
    connector: DataConnector,
    login: KafkaLogin | None,
    health: ConnectorHealth | None,
    max_paused_lag_bytes: int,
    unavailable: str | None = None,
) -> ConnectorView:
    """The connector as callers see it (``login`` None: the Kafka resource is gone)."""
    status, reason, streaming = live_status(connector, health)
    lag = health.lag_bytes if health is not None else None
    spec = spec_of(connector)
    return ConnectorView(
        uuid=connector.id,
        name=connector.name,
        status=status,
        status_reason=reason or unavailable,
        streaming=streaming,
        lag_bytes=lag,
        lag_exceeded=bool(
            status == ConnectorStatus.PAUSED and lag is not None and lag > max_paused_lag_bytes
        ),
        tables=spec.tables,
        excluded_columns=spec.excluded_columns,
        settings=spec.settings,
        topics=tuple(
            (table, spec.topic_of(login, table) if login else "") for table in spec.tables
        ),
        kafka=(connector.kafka.name or connector.kafka.uuid, connector.kafka.uuid),
        postgres=(connector.postgres.name or connector.postgres.uuid, connector.postgres.uuid),
        created_at=connector.created_at,
        kafka_app=connector.kafka.app_name,
        postgres_app=connector.postgres.app_name,
    )


def as_json(view: ConnectorView) -> dict[str, Any]:
    """Heroku's connector object (plus ``lag_bytes``, ``status_reason``, ``streaming``,
    ``lag_exceeded``, ``settings``)."""
    return {
        "uuid": view.uuid,
        "name": view.name,
        "status": view.status,
        "status_reason": view.status_reason,
        "streaming": view.streaming,
        "lag": view.lag,
        "lag_bytes": view.lag_bytes,
        "lag_exceeded": view.lag_exceeded,
        "tables": list(view.tables),
        "excluded_columns": list(view.excluded_columns),
        "settings": dict(view.settings),
        "topics": [{"table_name": t, "topic_name": topic} for t, topic in view.topics],
        "kafka_addon": {"name": view.kafka[0], "uuid": view.kafka[1]},
        "kafka_app": {"name": view.kafka_app},
        "postgres_addon": {"name": view.postgres[0], "uuid": view.postgres[1]},
        "postgres_app": {"name": view.postgres_app},
        "created_at": view.created_at.isoformat(),
    }


def human_bytes(value: int | None) -> str:
    """``< 1 MB`` below a megabyte, else megabytes with one decimal; ``unknown`` for None."""
    if value is None:
        return "unknown"
    if value < 1024**2:
        return "< 1 MB"
    return f"{value / 1024**2:,.1f} MB"


def _names(body: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_NAMES
        or not all(isinstance(item, str) and 0 < len(item) <= MAX_NAME_LENGTH for item in value)
    ):
        raise Unprocessable(f'"{key}" must be a list of names (at most {MAX_NAMES}).')
    return tuple(dict.fromkeys(value))


def _settings(value: Any) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Unprocessable('"settings" must be an object of Debezium properties.')
    checked: dict[str, str] = {}
    for key, raw in value.items():
        allowed = ALLOWED_SETTINGS.get(key)
        text = str(raw).lower() if isinstance(raw, str | bool) else None
        if allowed is None:
            raise Unprocessable(
                f"Setting {str(key)[:60]!r} cannot be changed; allowed: "
                f"{', '.join(sorted(ALLOWED_SETTINGS))}."
            )
        if text not in allowed:
            raise Unprocessable(f"Setting {key} takes one of: {', '.join(allowed)}.")
        checked[key] = text
    return checked


def check_unique(names: Sequence[str], name: str) -> None:
    """:raises Unprocessable: ``name`` is taken among ``names``."""
    if name in names:
        raise Unprocessable(f"A data connector named {name} already exists here.")
