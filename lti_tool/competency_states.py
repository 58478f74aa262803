"""A competency's state for a learner, as pages show it: in words, with an icon, in colour.

Colour is never the only carrier (WCAG 1.4.1): every state has a label and a symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from xapi.models import Evidence

# key: (label, symbol); the order is the order of the filter and of the legend.
STATES = {
    "not_acquired": (lazy_gettext("Not acquired"), "○"),
    "in_progress": (lazy_gettext("In progress"), "◐"),
    "acquired": (lazy_gettext("Acquired"), "●"),
    "conflicting": (lazy_gettext("Conflicting evidence"), "!"),
    "validated": (lazy_gettext("Validated by the jury"), "✔"),
    "not_validated": (lazy_gettext("Not validated by the jury"), "✖"),
}
# States that count as reached for a bloc's progress.
REACHED = frozenset({"acquired", "validated"})


def state_label(key: str) -> str:
    return str(STATES[key][0])


def state_symbol(key: str) -> str:
    return STATES[key][1]


@dataclass(frozen=True)
class CellState:
    state: str
    evidence_count: int = 0
    last_evidence_at: datetime | None = None
    score: float | None = None
    source: str = "computed"  # computed | jury | override

    @property
    def label(self) -> str:
        return state_label(self.state)

    @property
    def symbol(self) -> str:
        return STATES[self.state][1]

    @property
    def reached(self) -> bool:
        return self.state in REACHED


NOT_ACQUIRED = CellState("not_acquired")


def states_for(
    session: Session, learners: Select[tuple[int]] | Iterable[int], competency_ids: list[int]
) -> dict[tuple[int, int], CellState]:
    """States of the learners (an id list or a select of ids) for the competencies, in
    one query, whatever the number of learners; pairs not returned are not acquired."""
    learner_filter = (
        Evidence.learner_id.in_(learners)
        if isinstance(learners, Select)
        else Evidence.learner_id.in_(list(learners))
    )
    rows = session.execute(
        select(
            Evidence.learner_id,
            Evidence.competency_id,
            func.count(Evidence.id),
            func.max(Evidence.occurred_at),
            func.max(Evidence.score_scaled),
        )
        .where(learner_filter, Evidence.competency_id.in_(competency_ids))
        .group_by(Evidence.learner_id, Evidence.competency_id)
    ).all()
    states: dict[tuple[int, int], CellState] = {}
    for learner_id, competency_id, count, last_at, best in rows:
        # Until achievement states are stored, evidence alone means "in progress".
        states[(learner_id, competency_id)] = CellState(
            "in_progress", evidence_count=count, last_evidence_at=last_at, score=best
        )
    return states
