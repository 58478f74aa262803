"""A placed resource link: what an instructor put in a course (whole référentiel or one bloc)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.models.people import CourseContext
from referentiel.orm import Base, utcnow


class ResourceLink(Base):
    __tablename__ = "resource_link"
    __table_args__ = (UniqueConstraint("context_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("course_context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    framework_key: Mapped[str] = mapped_column(String(100))
    bloc_key: Mapped[str | None] = mapped_column(String(50))  # None: the whole référentiel
    lineitem_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    context: Mapped[CourseContext] = relationship()
