"""A learner's progress in the placed référentiel, and everything the tool holds about them.

Read-only queries for the learner page and the trainer's learner detail; a fixed
number of queries per page, whatever the amount of evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool.access import LaunchContext
from lti_tool.achievement.jury import panel_check
from lti_tool.achievement.models import BlocState, JuryDecision
from lti_tool.achievement.tracks import FollowedTrack, counted_blocs
from lti_tool.competency_states import NOT_ACQUIRED, CellState, bloc_standing_label, states_for
from lti_tool.course_scope import Placement, course_of
from lti_tool.models import CourseContext, LtiUser, Membership
from referentiel.audit import AuditEvent
from referentiel.jury import PanelCheck
from referentiel.models import Bloc, Competency
from xapi.models import Evidence, Statement


@dataclass(frozen=True)
class EvidenceItem:
    competency_id: int
    activity: str  # the activity's name when the statement gives one, else its IRI
    activity_iri: str
    verb: str
    occurred_at: datetime
    score: float | None
    success: bool | None
    completion: bool | None
    statement_id: str


@dataclass(frozen=True)
class CompetencyProgress:
    competency: Competency
    state: CellState
    evidence: list[EvidenceItem]


@dataclass(frozen=True)
class BlocProgress:
    bloc: Bloc
    competencies: list[CompetencyProgress]
    standing: str = "non_acquis"  # BlocState.state: en_cours, pret_pour_jury, valide...
    counted: bool = True  # False: the Bloc 7 track the learner does not follow

    @property
    def standing_label(self) -> str:
        return bloc_standing_label(self.standing)

    @property
    def total(self) -> int:
        return len(self.competencies)

    @property
    def reached(self) -> int:
        return sum(1 for c in self.competencies if c.state.reached)

    @property
    def remaining(self) -> list[CompetencyProgress]:
        return [c for c in self.competencies if not c.state.reached]

    @property
    def percent(self) -> int:
        return round(100 * self.reached / self.total) if self.total else 0


@dataclass(frozen=True)
class LearnerProgress:
    learner: LtiUser
    blocs: list[BlocProgress] = field(default_factory=list)
    tracks: list[FollowedTrack] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Mandatory blocs plus the followed track (see lti_tool.achievement.tracks)."""
        return sum(b.total for b in self.blocs if b.counted)

    @property
    def reached(self) -> int:
        return sum(b.reached for b in self.blocs if b.counted)

    @property
    def track_unknown(self) -> bool:
        return any(t.bloc is None for t in self.tracks)


def _verb_name(verb_id: str) -> str:
    return verb_id.rstrip("/").rsplit("/", 1)[-1]


def _activity_name(raw: str, iri: str, locale: str) -> str:
    """The statement's own name for its object, in the page's language when given."""
    try:
        statement = json.loads(raw)
        names = statement.get("object", {}).get("definition", {}).get("name") or {}
    except (ValueError, AttributeError):
        return iri
    if not isinstance(names, dict) or not names:
        return iri
    for tag, name in names.items():
        if str(tag).lower().startswith(locale):
            return str(name)
    return str(next(iter(names.values())))


def evidence_of(
    session: Session, learner_id: int, competency_ids: list[int], locale: str
) -> list[EvidenceItem]:
    """The learner's evidence for these competencies, newest first (by when it happened)."""
    rows = session.execute(
        select(Evidence, Statement.raw)
        .join(Statement, Statement.id == Evidence.statement_id)
        .where(
            Evidence.learner_id == learner_id,
            Evidence.competency_id.in_(competency_ids),
            Statement.voided.is_(False),
        )
        .order_by(Evidence.occurred_at.desc(), Evidence.id.desc())
    ).all()
    return [
        EvidenceItem(
            competency_id=ev.competency_id,
            activity=_activity_name(raw, ev.source_activity, locale),
            activity_iri=ev.source_activity,
            verb=_verb_name(ev.verb_id),
            occurred_at=ev.occurred_at,
            score=ev.score_scaled,
            success=ev.success,
            completion=ev.completion,
            statement_id=ev.statement_id,
        )
        for ev, raw in rows
    ]


def progress_of(
    session: Session, learner: LtiUser, placement: Placement, locale: str
) -> LearnerProgress:
    competency_ids = [c.id for c in placement.competencies]
    states = states_for(session, [learner.id], competency_ids)
    standings = {
        row.bloc_id: row.state
        for row in session.scalars(select(BlocState).where(BlocState.learner_id == learner.id))
    }
    counted = counted_blocs(session, [learner.id], placement.blocs)[learner.id]
    by_competency: dict[int, list[EvidenceItem]] = {}
    for item in evidence_of(session, learner.id, competency_ids, locale):
        by_competency.setdefault(item.competency_id, []).append(item)
    blocs = [
        BlocProgress(
            bloc=bloc,
            competencies=[
                CompetencyProgress(
                    competency=c,
                    state=states.get((learner.id, c.id), NOT_ACQUIRED),
                    evidence=by_competency.get(c.id, []),
                )
                for c in bloc.competencies
                if c.retired_at is None
            ],
            standing=standings.get(bloc.id, "non_acquis"),
            counted=bloc.id in counted.bloc_ids,
        )
        for bloc in placement.blocs
    ]
    return LearnerProgress(learner=learner, blocs=blocs, tracks=counted.tracks)


def audit_trail(session: Session, learner_id: int, limit: int = 200) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.learner_id == learner_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def personal_data(session: Session, launch: LaunchContext, placement: Placement) -> dict[str, Any]:
    """Everything the tool keeps about the launching learner (RGPD art. 15 and 20):
    identity, courses on this platform, progress, evidence with the statements
    behind it, and the audit trail about them."""
    user = session.get(LtiUser, launch.user_id)
    if user is None or user.issuer != launch.issuer:
        raise LookupError("launch user not found")
    course: CourseContext = course_of(session, launch)
    memberships = session.execute(
        select(Membership, CourseContext)
        .join(CourseContext, CourseContext.id == Membership.context_id)
        .where(Membership.user_id == user.id)
    ).all()
    progress = progress_of(session, user, placement, launch.locale)
    statements = session.execute(
        select(Statement.id, Statement.raw)
        .join(Evidence, Evidence.statement_id == Statement.id)
        .where(Evidence.learner_id == user.id)
        .distinct()
    ).all()
    return {
        "format": "lti-tool-personal-data",
        "format_version": 1,
        "person": {
            "platform": user.issuer,
            "user_id_on_platform": user.sub,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.email,
            "locale": user.locale,
            "first_seen": _iso(user.created_at),
        },
        "courses": [
            {
                "context_id": ctx.context_id,
                "title": ctx.title,
                "roles": m.roles,
                "active": m.active,
            }
            for m, ctx in memberships
        ],
        "course": {"context_id": course.context_id, "title": course.title},
        "referentiel": {"key": placement.framework.key, "version": placement.framework.version},
        "progress": [
            {
                "bloc": bp.bloc.key,
                "standing": bp.standing,
                "reached": bp.reached,
                "total": bp.total,
                "competencies": [
                    {
                        "code": cp.competency.code,
                        "state": cp.state.state,
                        "state_source": cp.state.source,
                        "evidence_count": cp.state.evidence_count,
                        "evidence": [
                            {
                                "activity": ev.activity_iri,
                                "verb": ev.verb,
                                "occurred_at": _iso(ev.occurred_at),
                                "score_scaled": ev.score,
                                "success": ev.success,
                                "completion": ev.completion,
                                "statement_id": ev.statement_id,
                            }
                            for ev in cp.evidence
                        ],
                    }
                    for cp in bp.competencies
                ],
            }
            for bp in progress.blocs
        ],
        "statements": [json.loads(raw) for _id, raw in statements],
        "audit_trail": [
            {
                "at": _iso(ev.at),
                "kind": ev.kind,
                "actor": ev.actor,
                "competency_id": ev.competency_id,
                "summary": ev.summary,
                "details": ev.details,
            }
            for ev in audit_trail(session, user.id, limit=10_000)
        ],
    }


@dataclass(frozen=True)
class Sitting:
    """One jury deliberation on a bloc (or one competency), its sign-offs, what is missing."""

    decision: JuryDecision
    check: PanelCheck

    @property
    def disagree(self) -> bool:
        return not self.check.decided and self.check.jurors >= 2 and self.check.external_jurors >= 1


def jury_sittings(session: Session, learner_id: int, bloc_ids: list[int]) -> list[Sitting]:
    """The learner's jury deliberations on these blocs, open ones first, newest first."""
    rows = session.scalars(
        select(JuryDecision)
        .where(JuryDecision.learner_id == learner_id, JuryDecision.bloc_id.in_(bloc_ids))
        .options(selectinload(JuryDecision.signoffs))
        .order_by(JuryDecision.opened_at.desc(), JuryDecision.id.desc())
    )
    sittings = [
        Sitting(
            decision=row,
            check=panel_check(row),
        )
        for row in rows
    ]
    return sorted(sittings, key=lambda s: s.decision.status != "open")
