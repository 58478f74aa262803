"""Stored statements and the evidence derived from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referentiel.orm import Base, utcnow


class Statement(Base):
    """One statement as received (``raw`` is the exact JSON) plus indexed columns."""

    __tablename__ = "xapi_statement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    raw: Mapped[str] = mapped_column(Text)
    stored: Mapped[datetime] = mapped_column(index=True)
    timestamp: Mapped[datetime]
    verb_id: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    actor_key: Mapped[str] = mapped_column(String(512), index=True)
    voided: Mapped[bool] = mapped_column(default=False)


class Evidence(Base):
    """A statement counted for one learner and one competency (withdrawn when voided)."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("statement_id", "learner_id", "competency_id"),
        Index("ix_evidence_learner_competency", "learner_id", "competency_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("xapi_statement.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    verb_id: Mapped[str] = mapped_column(Text)
    source_activity: Mapped[str] = mapped_column(Text)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    success: Mapped[bool | None]
    completion: Mapped[bool | None]
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
