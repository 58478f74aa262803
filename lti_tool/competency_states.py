"""A competency's state for a learner, as pages show it: in words, with a symbol, in colour.

States are those the achievement layer stores (``CompetencyState.state``: the
référentiel's ``CompetencyStanding``), plus "conflicting" when the rules found
evidence that disagrees (shown as such, not averaged away). Colour is never the only
carrier (WCAG 1.4.1): each state has a label and a symbol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import CompetencyState

# key: (label, symbol); the order is the order of the filter and of the legend.
STATES = {
    "non_acquis": (lazy_gettext("Not acquired"), "○"),
    "en_cours": (lazy_gettext("In progress"), "◐"),
    "conflicting": (lazy_gettext("Conflicting evidence"), "!"),
    "acquis": (lazy_gettext("Acquired"), "●"),
    "valide": (lazy_gettext("Validated by the jury"), "✔"),
    "non_valide": (lazy_gettext("Not validated by the jury"), "✖"),
}
# States that count as reached for a bloc's progress (as the gradebook counts them).
REACHED = frozenset({"acquis", "valide"})

BLOC_STANDINGS = {
    "non_acquis": lazy_gettext("Not started"),
    "en_cours": lazy_gettext("In progress"),
    "pret_pour_jury": lazy_gettext("Ready for the jury"),
    "valide": lazy_gettext("Validated by the jury"),
    "non_valide": lazy_gettext("Not validated by the jury"),
}

SOURCES = {
    "rule": lazy_gettext("computed by the rules"),
    "override": lazy_gettext("set by hand by a trainer"),
    "jury": lazy_gettext("decided by the jury"),
}


def state_label(key: str) -> str:
    return str(STATES[key][0])


def state_symbol(key: str) -> str:
    return STATES[key][1]


def bloc_standing_label(key: str) -> str:
    return str(BLOC_STANDINGS.get(key, key))


@dataclass(frozen=True)
class CellState:
    state: str
    evidence_count: int = 0
    last_evidence_at: datetime | None = None
    score: float | None = None
    source: str = "rule"  # rule | override | jury
    rule_version: int | None = None

    @property
    def label(self) -> str:
        return state_label(self.state)

    @property
    def symbol(self) -> str:
        return STATES[self.state][1]

    @property
    def reached(self) -> bool:
        return self.state in REACHED

    @property
    def source_label(self) -> str:
        return str(SOURCES.get(self.source, self.source))

    @classmethod
    def of(cls, row: CompetencyState | None) -> CellState:
        if row is None:
            return NOT_ACQUIRED
        state = row.state
        if row.conflicting and row.state_source == "rule" and state not in REACHED:
            state = "conflicting"
        return cls(
            state=state if state in STATES else "non_acquis",
            evidence_count=row.evidence_count,
            last_evidence_at=row.last_evidence_at,
            score=row.score,
            source=row.state_source,
            rule_version=row.rule_version,
        )


NOT_ACQUIRED = CellState("non_acquis")


def states_for(
    session: Session, learners: Select[tuple[int]] | Iterable[int], competency_ids: list[int]
) -> dict[tuple[int, int], CellState]:
    """States of the learners (an id list or a select of ids) for the competencies, in
    one query whatever their number; pairs not returned are not acquired."""
    learner_ids = learners if isinstance(learners, Select) else list(learners)
    rows = session.scalars(
        select(CompetencyState).where(
            CompetencyState.learner_id.in_(learner_ids),
            CompetencyState.competency_id.in_(competency_ids),
        )
    )
    return {(row.learner_id, row.competency_id): CellState.of(row) for row in rows}
