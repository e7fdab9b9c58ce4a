"""Usage records for billing: append-only, never rewritten.

One row per fact: a resource's plan period began (``provisioned``), its plan changed
(``plan_changed``, ``plan`` is the new one), it ended (``deprovisioned``, ``failed``), or an
adapter reported a metered figure (``sample``: ``metric``, ``value``, ``unit``, ``limit``).
A mistake is corrected by a new record whose ``corrects_id`` names the wrong one and whose
fields replace it (kind ``void`` cancels it); readers apply corrections
(``marketplace.services.usage``). The mapper refuses updates and deletes of stored rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow

PERIOD_KINDS = ("provisioned", "plan_changed", "deprovisioned", "failed")
SAMPLE = "sample"
VOID = "void"


class UsageRecord(Model):
    """One append-only usage fact about a resource (times in UTC)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_occurred_at", "occurred_at"),
        Index("ix_usage_records_resource_uuid", "resource_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_uuid: Mapped[str] = mapped_column(String(36))
    addon: Mapped[str] = mapped_column(String(64))
    plan: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    metric: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(32))
    limit: Mapped[float | None] = mapped_column(Float)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("usage_records.id"))
    note: Mapped[str | None] = mapped_column(Text)


class AppendOnlyError(RuntimeError):
    """A usage record was about to be changed or deleted."""


@event.listens_for(UsageRecord, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: UsageRecord) -> None:
    raise AppendOnlyError(f"usage record {target.id} is append-only; add a correction")


@event.listens_for(UsageRecord, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: UsageRecord) -> None:
    raise AppendOnlyError(f"usage record {target.id} is append-only; add a correction")
