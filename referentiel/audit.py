"""The append-only audit trail: every change to a learner's achievement, and why.

Rows are only ever inserted; nothing in the code base updates or deletes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentiel.orm import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_learner_at", "learner_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # evidence.added, jury.signoff, rule.changed...
    actor: Mapped[str] = mapped_column(Text, default="system")  # who did it (user key or "system")
    learner_id: Mapped[int | None]  # lti_user.id, no FK: the trail outlives deletions
    competency_id: Mapped[int | None]
    bloc_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(Text, default="")


def record(session: Session, kind: str, **what: Any) -> AuditEvent:
    """Append one event to the trail in the caller's transaction (``what``: as for
    :func:`event_values`)."""
    event = AuditEvent(**event_values(kind, **what))
    session.add(event)
    return event


def event_values(
    kind: str,
    *,
    actor: str = "system",
    learner_id: int | None = None,
    competency_id: int | None = None,
    bloc_id: int | None = None,
    summary: str = "",
    **details: Any,
) -> dict[str, Any]:
    """The columns of one event, for :func:`record` or for a many-row INSERT."""
    return {
        "kind": kind,
        "actor": actor,
        "learner_id": learner_id,
        "competency_id": competency_id,
        "bloc_id": bloc_id,
        "summary": summary,
        "details": details,
    }
