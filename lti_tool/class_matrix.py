"""The class matrix: every learner of a course by every competency placed, with filters.

States are the achievement layer's stored ``CompetencyState`` rows, read column by
column in one query for the whole class: the page runs the same number of queries
whatever the class size (see bench/pages_bench.py and the test that counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lti_tool.achievement.tracks import counted_blocs
from lti_tool.competency_states import NOT_ACQUIRED, STATES, CellState, states_for
from lti_tool.course_scope import Placement
from lti_tool.gradebook_sync_view import SyncState, sync_states
from lti_tool.models import CourseContext, LtiUser, Membership
from referentiel.models import Bloc, Competency


@dataclass(frozen=True)
class MatrixFilters:
    """Filters from the query string; unknown values are ignored, never an error."""

    bloc: str = ""
    state: str = ""
    name: str = ""

    @classmethod
    def parse(cls, args: dict[str, str], placement: Placement) -> MatrixFilters:
        bloc = args.get("bloc", "")
        state = args.get("state", "")
        return cls(
            bloc=bloc if bloc in {b.key for b in placement.blocs} else "",
            state=state if state in STATES else "",
            name=args.get("name", "").strip()[:100],
        )

    def as_params(self) -> dict[str, str]:
        pairs = (("bloc", self.bloc), ("state", self.state), ("name", self.name))
        return {k: v for k, v in pairs if v}


@dataclass(frozen=True)
class MatrixRow:
    learner: LtiUser
    cells: list[CellState]
    sync: SyncState | None = None
    # The learner's total: mandatory blocs plus the Bloc 7 track they follow (all the
    # columns shown when one bloc is filtered); see lti_tool.achievement.tracks.
    reached: int = 0
    total: int = 0
    track_unknown: bool = False


@dataclass(frozen=True)
class BlocColumns:
    bloc: Bloc
    competencies: list[Competency]


@dataclass
class ClassMatrix:
    groups: list[BlocColumns]
    rows: list[MatrixRow]
    filters: MatrixFilters
    total_learners: int
    distribution: dict[int, dict[str, int]] = field(default_factory=dict)  # competency → counts

    @property
    def competencies(self) -> list[Competency]:
        return [c for g in self.groups for c in g.competencies]


def course_learner_ids(course: CourseContext) -> Select[tuple[int]]:
    """The ids of the course's active learners, as a subquery."""
    return select(Membership.user_id).where(
        Membership.context_id == course.id,
        Membership.is_learner.is_(True),
        Membership.active.is_(True),
    )


def course_learners(session: Session, course: CourseContext) -> list[LtiUser]:
    """The course's active learners, by family name (or display name), then id."""
    learners = session.scalars(
        select(LtiUser)
        .join(Membership, Membership.user_id == LtiUser.id)
        .where(
            Membership.context_id == course.id,
            Membership.is_learner.is_(True),
            Membership.active.is_(True),
            LtiUser.issuer == course.issuer,
        )
    )
    return sorted(learners, key=lambda u: ((u.family_name or u.display_name).casefold(), u.id))


def build_matrix(
    session: Session,
    course: CourseContext,
    placement: Placement,
    filters: MatrixFilters,
    resource_link_id: int | None = None,
) -> ClassMatrix:
    groups = [
        BlocColumns(b, [c for c in b.competencies if c.retired_at is None])
        for b in placement.blocs
        if not filters.bloc or b.key == filters.bloc
    ]
    competencies = [c for g in groups for c in g.competencies]
    all_learners = course_learners(session, course)
    needle = filters.name.casefold()
    learners = [u for u in all_learners if needle in u.display_name.casefold()]
    of_course = course_learner_ids(course)
    states = states_for(session, of_course, [c.id for c in competencies], detailed=False)
    syncs = sync_states(session, resource_link_id, of_course)
    counted = counted_blocs(session, [u.id for u in learners], placement.blocs)
    rows = []
    distribution: dict[int, dict[str, int]] = {c.id: dict.fromkeys(STATES, 0) for c in competencies}
    for learner in learners:
        cells = [states.get((learner.id, c.id), NOT_ACQUIRED) for c in competencies]
        for competency, cell in zip(competencies, cells, strict=True):
            distribution[competency.id][cell.state] += 1
        if filters.state and not any(cell.state == filters.state for cell in cells):
            continue
        scope = counted[learner.id]
        in_total = [
            cell
            for competency, cell in zip(competencies, cells, strict=True)
            if filters.bloc or competency.bloc_id in scope.bloc_ids
        ]
        rows.append(
            MatrixRow(
                learner=learner,
                cells=cells,
                sync=syncs.get(learner.id),
                reached=sum(1 for cell in in_total if cell.reached),
                total=len(in_total),
                track_unknown=scope.track_unknown and not filters.bloc,
            )
        )
    return ClassMatrix(
        groups=groups,
        rows=rows,
        filters=filters,
        total_learners=len(all_learners),
        distribution=distribution,
    )
