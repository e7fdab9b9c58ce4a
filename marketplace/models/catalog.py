"""The catalog: add-on services and their plans, seeded from the adapters' declarations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow


def _new_id() -> str:
    return str(uuid.uuid4())


class Addon(Model):
    """An add-on service in the catalog. Its API password and SSO salt are stored encrypted."""

    __tablename__ = "addons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="ga")
    config_vars_prefix: Mapped[str] = mapped_column(String(64))
    config_vars: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON)
    requires: Mapped[list[str]] = mapped_column(JSON)
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    api_password_encrypted: Mapped[str] = mapped_column(Text)
    sso_salt_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plans: Mapped[list[Plan]] = relationship(
        back_populates="addon", order_by="Plan.price_cents", cascade="all, delete-orphan"
    )

    def plan(self, slug: str) -> Plan | None:
        """Return this add-on's plan called ``slug``, or None."""
        return next((p for p in self.plans if p.slug == slug), None)

    @property
    def public_plans(self) -> list[Plan]:
        """The plans a customer can choose, cheapest first."""
        return [plan for plan in self.plans if plan.state == "public"]

    @property
    def starting_price_cents(self) -> int:
        """The cheapest public plan's monthly price."""
        return min((plan.price_cents for plan in self.public_plans), default=0)


class Plan(Model):
    """A plan of an add-on: price, limits, and whether provisioning is asynchronous."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("addon_id", "slug"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_id)
    addon_id: Mapped[str] = mapped_column(ForeignKey("addons.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    human_name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_async: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="public")
    limits: Mapped[dict[str, Any]] = mapped_column(JSON)

    addon: Mapped[Addon] = relationship(back_populates="plans")

    @property
    def full_name(self) -> str:
        """``<addon>:<plan>``, as the Platform API names plans."""
        return f"{self.addon.slug}:{self.slug}"


class CatalogVersion(Model):
    """The catalog's version: one row whose digest changes whenever the catalog does.

    :func:`marketplace.services.catalog.sync_catalog` writes it in the same commit as the
    add-ons and plans; every web process compares it (every few seconds, not per request)
    with the version its rendered catalog documents were made from.
    """

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
