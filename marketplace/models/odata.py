"""External Objects' OData services: one per resource, with its credentials and shared tables."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow
from marketplace.models.resource import Resource


class ODataService(Model):
    """The OData 4.0 service of a resource whose adapter is a data service.

    ``service_id`` (32 random hex) is the URL's ``/odata/v4/<service_id>/``. ``username`` is
    32 hex; passwords are stored only as slow hashes (``scrypt$…``, see
    ``marketplace.odata.credentials``); after a reset the previous hash keeps working until
    ``previous_expires_at``. ``tables`` holds the shared ``"schema.table"`` names.
    ``window_start``/``window_count`` are the rate limit's fixed hourly window, counted with
    one atomic UPDATE per request (so every web process shares it).
    """

    __tablename__ = "odata_services"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    service_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: secrets.token_hex(16)
    )
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    previous_password_hash: Mapped[str | None] = mapped_column(String(255))
    previous_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tables: Mapped[list[Any]] = mapped_column(JSON, default=list)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    resource: Mapped[Resource] = relationship()
