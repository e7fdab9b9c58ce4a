"""Single sign-on bookkeeping: tokens already used, so a token works once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import Model
from marketplace.models._types import UTCDateTime, utcnow


class UsedSsoToken(Model):
    """A consumed SSO token, kept (as a digest) until it could no longer pass the time check."""

    __tablename__ = "used_sso_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
