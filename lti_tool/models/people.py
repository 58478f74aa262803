"""Users, course contexts and memberships as the platforms tell them at launch and via NRPS.

A user is identified by the issuer and ``sub`` pair (LTI 1.3 Core §5.3.6); a
context by issuer and context id. Everything tenant-scoped hangs on the issuer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referentiel.orm import Base, utcnow


class LtiUser(Base):
    __tablename__ = "lti_user"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255), index=True)
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    given_name: Mapped[str | None] = mapped_column(Text)
    family_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    locale: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        return (
            self.name or " ".join(p for p in (self.given_name, self.family_name) if p) or self.sub
        )


class CourseContext(Base):
    __tablename__ = "course_context"
    __table_args__ = (UniqueConstraint("issuer", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    # The registration (issuer + client id) the context was last launched through:
    # services (NRPS, AGS) ask that registration's token endpoint.
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"))
    context_id: Mapped[str] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    nrps_url: Mapped[str | None] = mapped_column(Text)
    ags_lineitems_url: Mapped[str | None] = mapped_column(Text)
    roster_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="context", cascade="all, delete-orphan"
    )


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("context_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("course_context.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    is_learner: Mapped[bool] = mapped_column(default=False)
    is_instructor: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(10), default="launch")  # launch | nrps
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    context: Mapped[CourseContext] = relationship(back_populates="memberships")
    user: Mapped[LtiUser] = relationship()
