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
    # The issuer of the platform the storing credential is bound to (None: unbound).
    # Evidence is derived only for that platform's learners.
    platform_issuer: Mapped[str | None] = mapped_column(String(255))


class MappingRule(Base):
    """An activity id (exact, or a prefix) whose statements count for a competency."""

    __tablename__ = "xapi_mapping_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_iri: Mapped[str] = mapped_column(Text)
    is_prefix: Mapped[bool] = mapped_column(default=False)
    competency_id: Mapped[int] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LearnerKey(Base):
    """An actor key (``xapi.actors``) known to name an LTI user.

    Written by ``xapi.evidence.resolve_pending_for_user``; it is what makes an
    ``mbox_sha1sum`` actor resolvable without hashing every user's email.
    """

    __tablename__ = "xapi_learner_key"
    __table_args__ = (UniqueConstraint("actor_key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(512))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)


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
