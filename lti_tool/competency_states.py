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
from typing import Any

from flask_babel import lazy_gettext
from markupsafe import Markup
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
    def from_values(
        cls,
        state: str,
        source: str,
        conflicting: bool,
        evidence_count: int = 0,
        last_evidence_at: datetime | None = None,
        score: float | None = None,
        rule_version: int | None = None,
    ) -> CellState:
        """From a stored ``CompetencyState``'s columns."""
        if conflicting and source == "rule" and state not in REACHED:
            state = "conflicting"
        return cls(
            state=state if state in STATES else "non_acquis",
            evidence_count=evidence_count,
            last_evidence_at=last_evidence_at,
            score=score,
            source=source,
            rule_version=rule_version,
        )


NOT_ACQUIRED = CellState("non_acquis")


def states_for(
    session: Session,
    learners: Select[tuple[int]] | Iterable[int],
    competency_ids: list[int],
    *,
    detailed: bool = True,
) -> dict[tuple[int, int], CellState]:
    """States of the learners (an id list or a select of ids) for the competencies, in
    one query whatever their number; pairs not returned are not acquired.

    Reads only the columns pages show (``detailed=False``: the state alone, for the
    matrix): a class of 300 learners has 31,500 states, and loading them as ORM objects
    with their JSON explanations would cost more than the rest of the page.
    """
    learner_ids = learners if isinstance(learners, Select) else list(learners)
    columns: list[Any] = [
        CompetencyState.learner_id,
        CompetencyState.competency_id,
        CompetencyState.state,
        CompetencyState.state_source,
        CompetencyState.conflicting,
    ]
    if detailed:
        columns += [
            CompetencyState.evidence_count,
            CompetencyState.last_evidence_at,
            CompetencyState.score,
            CompetencyState.rule_version,
        ]
    rows = session.execute(
        select(*columns).where(
            CompetencyState.learner_id.in_(learner_ids),
            CompetencyState.competency_id.in_(competency_ids),
        )
    )
    cache: dict[tuple[Any, ...], CellState] = {}
    states: dict[tuple[int, int], CellState] = {}
    for learner_id, competency_id, *values in rows:
        key = tuple(values)
        cell = cache.get(key)
        if cell is None:
            cell = cache[key] = CellState.from_values(*values)
        states[(learner_id, competency_id)] = cell
    return states


def cell_markup() -> dict[str, Markup]:
    """The matrix cell of each state, built once per page: a class carries 31,500 cells
    and translating each label again would cost more than the rest of the page."""
    return {
        key: Markup(
            '<td class="s-{key}"><span aria-hidden="true">{symbol}</span>'
            '<span class="visually-hidden">{label}</span></td>'
        ).format(key=key, symbol=symbol, label=str(label))
        for key, (label, symbol) in STATES.items()
    }
