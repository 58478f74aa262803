"""Persistent achievement: rule versions, computed states, jury, overrides, gradebook outbox.

Computed rows (``CompetencyState``, ``BlocState``) are caches of what the rules, the
jury and the trainers say, kept up to date in the transaction that changes their
inputs, so that pages read a class in a handful of queries. Everything a person
decides (rule versions, sign-offs, overrides, chosen tracks) is kept as history: rows
are added, never rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referentiel.orm import Base, utcnow


class RuleSetVersion(Base):
    """One version of a framework's rules; the highest version is in force."""

    __tablename__ = "rule_set_version"
    __table_args__ = (UniqueConstraint("framework_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    version: Mapped[int]
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(Text, default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompetencyState(Base):
    """A learner's state for one competency: what the rules computed and what stands."""

    __tablename__ = "competency_state"
    __table_args__ = (
        UniqueConstraint("learner_id", "competency_id"),
        Index("ix_competency_state_learner_bloc", "learner_id", "bloc_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    # What stands: the jury's decision, else a trainer's override, else the rules.
    state: Mapped[str] = mapped_column(String(20))
    state_source: Mapped[str] = mapped_column(String(10))  # rule | override | jury
    computed_state: Mapped[str] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    evidence_count: Mapped[int] = mapped_column(default=0)
    last_evidence_at: Mapped[datetime | None]
    conflicting: Mapped[bool] = mapped_column(default=False)
    rule_version: Mapped[int]
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the rules kept of the evidence (referentiel.achievement.Tally), so that later
    # evidence is added without reading the rest again; None: recompute from it all.
    tally: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the oldest counted evidence leaves the validity period: recompute then.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class BlocState(Base):
    """A learner's state for one bloc: en cours, prêt pour le jury, or the jury's decision."""

    __tablename__ = "bloc_state"
    __table_args__ = (UniqueConstraint("learner_id", "bloc_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    acquired: Mapped[int] = mapped_column(default=0)  # competencies acquis or validé
    total: Mapped[int] = mapped_column(default=0)
    jury_decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("jury_decision.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LearnerTrack(Base):
    """The optional bloc a learner follows in an option group (e.g. bloc-7a or bloc-7b)."""

    __tablename__ = "learner_track"
    __table_args__ = (UniqueConstraint("learner_id", "framework_id", "option_group"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    framework_id: Mapped[int] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    option_group: Mapped[str] = mapped_column(String(50))
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    chosen_by: Mapped[str] = mapped_column(Text, default="system")
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)


class JuryDecision(Base):
    """A jury's deliberation on one bloc (or one competency) for one learner.

    It stays ``open`` while sign-offs gather and becomes ``decided`` when they satisfy
    the jury rule (referentiel/jury.py). A later sitting opens a new one.
    """

    __tablename__ = "jury_decision"
    __table_args__ = (Index("ix_jury_decision_learner_bloc", "learner_id", "bloc_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    competency_id: Mapped[int | None] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | decided
    decision: Mapped[str | None] = mapped_column(String(20))  # validated | not_validated
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    signoffs: Mapped[list[JurySignoff]] = relationship(
        back_populates="jury_decision", order_by="JurySignoff.signed_at"
    )


class JurySignoff(Base):
    __tablename__ = "jury_signoff"

    id: Mapped[int] = mapped_column(primary_key=True)
    jury_decision_id: Mapped[int] = mapped_column(
        ForeignKey("jury_decision.id", ondelete="CASCADE"), index=True
    )
    juror_id: Mapped[str] = mapped_column(String(255))
    juror_name: Mapped[str] = mapped_column(Text)
    external: Mapped[bool]
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(Text, default="system")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    jury_decision: Mapped[JuryDecision] = relationship(back_populates="signoffs")


class CompetencyOverride(Base):
    """A trainer setting a competency's state by hand; ``state`` None lifts the override."""

    __tablename__ = "competency_override"
    __table_args__ = (Index("ix_competency_override_pair", "learner_id", "competency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    state: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GradebookLineItem(Base):
    """The AGS line item that receives a resource link's scores, once found or created."""

    __tablename__ = "gradebook_line_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE"), unique=True
    )
    lineitem_url: Mapped[str] = mapped_column(Text)
    score_maximum: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreSyncState(Base):
    """Per learner and resource link: the last score queued, and the lock that orders them.

    Enqueueing and claiming both lock this row, so timestamps only grow and an older
    score is never claimed while a newer one waits.
    """

    __tablename__ = "score_sync_state"
    __table_args__ = (UniqueConstraint("resource_link_id", "learner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE")
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    last_timestamp: Mapped[datetime | None]
    last_share: Mapped[float | None] = mapped_column(Float)
    last_comment: Mapped[str | None] = mapped_column(Text)
    last_activity_progress: Mapped[str | None] = mapped_column(String(20))


class ScoreOutbox(Base):
    """One score to deliver, written in the transaction of the change that caused it.

    status: pending → sending (claimed, with a lease) → delivered; or superseded (a
    newer score for the same learner and line item replaced it, or the platform
    already holds a newer one); or dead (retries exhausted or refused: an admin may
    retry it).
    """

    __tablename__ = "score_outbox"
    __table_args__ = (
        Index("ix_score_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_score_outbox_pair", "resource_link_id", "learner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(
        ForeignKey("resource_link.id", ondelete="CASCADE")
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    share: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    activity_progress: Mapped[str] = mapped_column(String(20))
    grading_progress: Mapped[str] = mapped_column(String(20))
    score_timestamp: Mapped[datetime]
    cause: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # as last sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
