"""Streaming data connectors: change data capture from a Postgres resource into a Kafka one.

A connector belongs to its Postgres resource and writes to a Kafka resource of the same app;
the link is also recorded as a :class:`~marketplace.models.ResourceLink` named
``kafka:<connector id>`` (so removing the Kafka resource tells the Postgres adapter). No
secret is stored here: the connector role's password lives only in Kafka Connect's config,
and the Kafka tenant's credentials are read from the Kafka resource's (encrypted) config.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow
from marketplace.models.resource import Resource


class ConnectorStatus(enum.StrEnum):
    """A connector's states, as Heroku's data connectors API names them."""

    CREATING = "creating"
    AVAILABLE = "available"
    PAUSED = "paused"
    ERROR = "error"
    DEPROVISIONED = "deprovisioned"


class DataConnector(Model):
    """One connector. ``tables`` are ``schema.table`` names, ``excluded_columns``
    ``schema.table.column`` names, ``settings`` allowed Debezium properties (strings).
    ``status`` is the last known state; ``status_reason`` says why it is ``error`` (from Kafka
    Connect's task status) or why it was deprovisioned."""

    __tablename__ = "data_connectors"
    __table_args__ = (
        Index("ix_data_connectors_postgres_resource_id", "postgres_resource_id"),
        Index("ix_data_connectors_kafka_resource_id", "kafka_resource_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(64))
    postgres_resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE")
    )
    kafka_resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    tables: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ConnectorStatus.CREATING)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deprovisioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    postgres: Mapped[Resource] = relationship(foreign_keys=[postgres_resource_id])
    kafka: Mapped[Resource] = relationship(foreign_keys=[kafka_resource_id])

    @property
    def link_name(self) -> str:
        """The name of the connector's :class:`ResourceLink` (Postgres -> Kafka)."""
        return f"kafka:{self.id}"
