"""OAuth2 access tokens the platforms granted to the tool, kept until they expire.

In the database rather than in memory so that every worker and web process shares
them (1EdTech Security Framework §4.1: a token is reused until it expires).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referentiel.orm import Base, utcnow


class PlatformAccessToken(Base):
    __tablename__ = "platform_access_token"
    __table_args__ = (UniqueConstraint("platform_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(1000))  # the scopes asked, sorted, space-separated
    access_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    obtained_at: Mapped[datetime] = mapped_column(default=utcnow)
