"""The platform's OAuth authorization for one resource (Platform API for Partners)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from marketplace.models.resource import Resource


class PlatformAuthorization(Model):
    """Grant and tokens for one resource, all encrypted.

    The grant code is exchanged once for an access token (about 8 hours) and a refresh token
    (as long as the add-on lives); the access token is refreshed before it expires.
    """

    __tablename__ = "platform_authorizations"

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    grant_code_encrypted: Mapped[str | None] = mapped_column(Text)
    grant_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resource: Mapped[Resource] = relationship(back_populates="authorization")

    @property
    def exchanged(self) -> bool:
        """Whether the grant was already exchanged for tokens."""
        return self.refresh_token_encrypted is not None
