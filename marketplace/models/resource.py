"""Provisioned resources: one row per platform uuid, the durable truth of its state."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.models._types import UTCDateTime, utcnow
from marketplace.models.catalog import Addon, Plan

if TYPE_CHECKING:
    from marketplace.models.platform import PlatformAuthorization


class ResourceState(enum.StrEnum):
    """Lifecycle of a resource."""

    PROVISIONING = "provisioning"
    PROVISIONED = "provisioned"
    DEPROVISIONING = "deprovisioning"
    DEPROVISIONED = "deprovisioned"
    FAILED = "failed"


class Resource(db.Model):  # type: ignore[name-defined]
    """An add-on resource. ``uuid`` is the platform's id and the idempotency key.

    ``config_encrypted`` holds the config vars (with credentials) as one Fernet token.
    """

    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    name: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=ResourceState.PROVISIONING)
    config_encrypted: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deprovisioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Asynchronous work (see services/async_provisioning.py). ``step`` is the next step to
    # run; a worker holds ``lease_owner`` until ``lease_expires_at`` while it runs steps.
    is_async: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[str | None] = mapped_column(String(32))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    addon: Mapped[Addon] = relationship()
    plan: Mapped[Plan] = relationship()
    authorization: Mapped[PlatformAuthorization | None] = relationship(
        back_populates="resource", cascade="all, delete-orphan"
    )

    @property
    def provider_id(self) -> str:
        """The id returned to the platform (its ``provider_id``)."""
        return self.uuid
