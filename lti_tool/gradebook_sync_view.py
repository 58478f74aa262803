"""Where each learner's gradebook score stands, as the trainer's dashboard shows it.

Read from the achievement layer's outbox (``ScoreOutbox``): per learner, the newest
score queued for the launch's resource link, superseded ones aside. pending and
sending read "pending", delivered "delivered", dead "failed" (an admin or the
trainer may queue it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import ScoreOutbox

SYNC_LABELS = {
    "pending": lazy_gettext("pending"),
    "delivered": lazy_gettext("delivered"),
    "failed": lazy_gettext("failed"),
}
_FROM_STATUS = {
    "pending": "pending",
    "sending": "pending",
    "delivered": "delivered",
    "dead": "failed",
}


@dataclass(frozen=True)
class SyncState:
    outbox_id: int
    status: str  # pending | delivered | failed
    share: float
    at: datetime  # when queued, or delivered
    error: str | None

    @property
    def label(self) -> str:
        return str(SYNC_LABELS[self.status])


def sync_states(
    session: Session, resource_link_id: int | None, learners: Select[tuple[int]]
) -> dict[int, SyncState]:
    """learner id → the state of their newest score on this link (one query)."""
    if resource_link_id is None:
        return {}
    newest = (
        select(func.max(ScoreOutbox.id))
        .where(
            ScoreOutbox.resource_link_id == resource_link_id,
            ScoreOutbox.status != "superseded",
            ScoreOutbox.learner_id.in_(learners),
        )
        .group_by(ScoreOutbox.learner_id)
    )
    rows = session.execute(
        select(
            ScoreOutbox.id,
            ScoreOutbox.learner_id,
            ScoreOutbox.status,
            ScoreOutbox.share,
            ScoreOutbox.created_at,
            ScoreOutbox.delivered_at,
            ScoreOutbox.last_error,
        ).where(ScoreOutbox.id.in_(newest))
    )
    return {
        learner_id: SyncState(
            outbox_id=row_id,
            status=_FROM_STATUS.get(status, "pending"),
            share=share,
            at=delivered_at or created_at,
            error=error,
        )
        for row_id, learner_id, status, share, created_at, delivered_at, error in rows
    }
