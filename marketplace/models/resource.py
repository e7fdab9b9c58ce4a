"""Provisioned resources: one row per platform uuid, the durable truth of its state."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import Model
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


class Resource(Model):
    """An add-on resource. ``uuid`` is the platform's id and the idempotency key.

    ``config_encrypted`` holds the config vars (with credentials) as one Fernet token, and
    ``adapter_state_encrypted`` the adapter's private JSON document (never sent anywhere).
    ``condition`` explains, for the dashboard, why a provisioned resource cannot work (for
    example: the Postgres resource it was linked to was removed).
    """

    __tablename__ = "resources"
    __table_args__ = (
        Index("ix_resources_app_id", "app_id"),
        Index("ix_resources_api_token_hash", "api_token_hash", unique=True),
        Index("ix_resources_next_tick_at", "next_tick_at"),
        # The reconciler's and the stale-provision sweeps' lookups: unfinished states, and
        # provisioned resources with a pending step (a plan change or a rotation in flight).
        Index("ix_resources_state_step", "state", "step"),
    )

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
    adapter_state_encrypted: Mapped[str | None] = mapped_column(Text)
    app_id: Mapped[str | None] = mapped_column(String(64))
    app_name: Mapped[str | None] = mapped_column(String(255))
    condition: Mapped[str | None] = mapped_column(Text)
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
    # Background work (services/background.py): when the adapter's next tick is due.
    next_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # The app's log input (services/log_drain.py): Logplex's URL carries credentials, so it
    # is encrypted; the drain token names the app's log stream in each syslog line.
    log_input_url_encrypted: Mapped[str | None] = mapped_column(Text)
    log_drain_token: Mapped[str | None] = mapped_column(String(255))

    # A per-resource API token (services/api_tokens.py), stored as its SHA-256 only.
    api_token_hash: Mapped[str | None] = mapped_column(String(64))
    api_token_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Every use of a resource reads its add-on and plan: load them in the same statement.
    addon: Mapped[Addon] = relationship(lazy="joined", innerjoin=True)
    plan: Mapped[Plan] = relationship(lazy="joined", innerjoin=True)
    authorization: Mapped[PlatformAuthorization | None] = relationship(
        back_populates="resource", cascade="all, delete-orphan"
    )

    @property
    def provider_id(self) -> str:
        """The id returned to the platform (its ``provider_id``)."""
        return self.uuid


class ResourceLink(Model):
    """A link from one resource to another of the same app (``AddonSpec.links``).

    ``name`` is the link's declared name, or a name the adapter scopes under it (a data
    connector's ``kafka:<connector id>``); one source has at most one link of each name.
    """

    __tablename__ = "resource_links"
    __table_args__ = (
        UniqueConstraint("source_id", "name"),
        Index("ix_resource_links_target_id", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    source_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    target_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    source: Mapped[Resource] = relationship(foreign_keys=[source_id])
    target: Mapped[Resource] = relationship(foreign_keys=[target_id], lazy="joined", innerjoin=True)
