"""Read side for pages and the CLI: a class's achievement in a fixed number of queries.

``class_progress`` runs the same five queries whatever the number of learners (the
pages' bench counts them): the course, its learners, the competencies of the
frameworks placed in it, their competency states, their bloc states and tracks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import BlocState, CompetencyState, LearnerTrack
from lti_tool.course_scope import course_named
from lti_tool.exceptions import NotFound
from lti_tool.models.people import CourseContext, LtiUser, Membership
from lti_tool.models.resource_link import ResourceLink
from referentiel.certification import (
    BlocProgress,
    BlocStanding,
    Certification,
    certification,
)
from referentiel.models import Bloc, Competency, Framework


@dataclass(frozen=True)
class CompetencyRow:
    learner_id: int
    learner_sub: str
    learner_name: str
    framework_key: str
    bloc_key: str
    competency_id: int
    competency_code: str
    competency_iri: str
    state: str
    state_source: str
    score: float | None
    evidence_count: int
    last_evidence_at: datetime | None
    conflicting: bool
    rule_version: int | None


@dataclass
class ClassProgress:
    context: CourseContext
    learners: list[LtiUser]
    frameworks: list[Framework]
    competencies: list[tuple[Framework, Bloc, Competency]]
    states: dict[tuple[int, int], CompetencyState] = field(default_factory=dict)
    bloc_states: dict[tuple[int, int], BlocState] = field(default_factory=dict)
    tracks: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)

    def rows(self, base_url: str) -> Iterator[CompetencyRow]:
        """One row per learner and competency, non acquis where nothing was computed."""
        for learner in self.learners:
            for framework, bloc, competency in self.competencies:
                state = self.states.get((learner.id, competency.id))
                yield CompetencyRow(
                    learner_id=learner.id,
                    learner_sub=learner.sub,
                    learner_name=learner.display_name,
                    framework_key=framework.key,
                    bloc_key=bloc.key,
                    competency_id=competency.id,
                    competency_code=competency.code,
                    competency_iri=f"{base_url}/referentiels/{framework.key}/{bloc.key}/"
                    f"{competency.code}",
                    state=state.state if state else "non_acquis",
                    state_source=state.state_source if state else "rule",
                    score=state.score if state else None,
                    evidence_count=state.evidence_count if state else 0,
                    last_evidence_at=state.last_evidence_at if state else None,
                    conflicting=state.conflicting if state else False,
                    rule_version=state.rule_version if state else None,
                )

    def bloc_standing(self, learner_id: int, bloc_id: int) -> str:
        row = self.bloc_states.get((learner_id, bloc_id))
        return row.state if row else BlocStanding.NON_ACQUIS.value

    def certification(self, learner_id: int, framework: Framework) -> Certification:
        blocs = [
            BlocProgress(
                key=b.key,
                optional=b.optional,
                option_group=b.option_group,
                standing=BlocStanding(self.bloc_standing(learner_id, b.id)),
                acquired=(
                    self.bloc_states[(learner_id, b.id)].acquired
                    if (learner_id, b.id) in self.bloc_states
                    else 0
                ),
            )
            for b in framework.blocs
            if b.retired_at is None
        ]
        return certification(blocs, self.tracks.get((learner_id, framework.id), {}))


def class_progress(
    session: Session, issuer: str, context_id: str, learner_sub: str | None = None
) -> ClassProgress:
    """A course's learners and their achievement on the frameworks placed in it.

    When no resource link names a framework yet, every loaded framework is shown.
    """
    context = course_named(session, issuer, context_id)
    learners_query = (
        select(LtiUser)
        .join(Membership, Membership.user_id == LtiUser.id)
        .where(
            Membership.context_id == context.id,
            Membership.is_learner.is_(True),
            Membership.active.is_(True),
        )
        .order_by(LtiUser.family_name, LtiUser.given_name, LtiUser.sub)
    )
    if learner_sub is not None:
        learners_query = learners_query.where(LtiUser.sub == learner_sub)
    learners = list(session.scalars(learners_query))
    if learner_sub is not None and not learners:
        raise NotFound(f"no learner {learner_sub!r} in course {context_id!r}")
    placed = select(ResourceLink.framework_key).where(ResourceLink.context_id == context.id)
    competency_query = (
        select(Framework, Bloc, Competency)
        .join(Bloc, Bloc.framework_id == Framework.id)
        .join(Competency, Competency.bloc_id == Bloc.id)
        .where(Bloc.retired_at.is_(None), Competency.retired_at.is_(None))
        .order_by(Framework.key, Bloc.position, Competency.position)
    )
    if session.scalar(placed.limit(1)) is not None:
        competency_query = competency_query.where(Framework.key.in_(placed))
    competencies = [tuple(row) for row in session.execute(competency_query)]
    frameworks = list({f.id: f for f, _, _ in competencies}.values())
    progress = ClassProgress(
        context=context,
        learners=learners,
        frameworks=frameworks,
        competencies=competencies,
    )
    learner_ids = (
        select(Membership.user_id).where(
            Membership.context_id == context.id,
            Membership.is_learner.is_(True),
            Membership.active.is_(True),
        )
        if learner_sub is None
        else select(LtiUser.id).where(LtiUser.id.in_([learner.id for learner in learners]))
    )
    for state in session.scalars(
        select(CompetencyState).where(CompetencyState.learner_id.in_(learner_ids))
    ):
        progress.states[(state.learner_id, state.competency_id)] = state
    for bloc_state in session.scalars(
        select(BlocState).where(BlocState.learner_id.in_(learner_ids))
    ):
        progress.bloc_states[(bloc_state.learner_id, bloc_state.bloc_id)] = bloc_state
    blocs_by_id = {b.id: b for _, b, _ in competencies}
    for track in session.scalars(
        select(LearnerTrack).where(LearnerTrack.learner_id.in_(learner_ids))
    ):
        bloc = blocs_by_id.get(track.bloc_id)
        if bloc is not None:
            progress.tracks.setdefault((track.learner_id, track.framework_id), {})[
                track.option_group
            ] = bloc.key
    return progress
