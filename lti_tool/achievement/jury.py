"""Jury sign-offs, trainer overrides and chosen tracks: what people decide, kept as history.

Each function works in the caller's transaction: it records the act, writes the
audit trail, recomputes the states it touches and queues the gradebook scores they
feed, so the act and its consequences commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement import recompute
from lti_tool.achievement.exceptions import AchievementError, OverrideReasonMissing
from lti_tool.achievement.models import (
    CompetencyOverride,
    JuryDecision,
    JurySignoff,
    LearnerTrack,
)
from referentiel import audit
from referentiel.certification import CompetencyStanding
from referentiel.jury import Decision, PanelCheck, SignOff, check_panel
from referentiel.models import Bloc, Competency
from referentiel.orm import utcnow

OVERRIDABLE = (
    CompetencyStanding.NON_ACQUIS,
    CompetencyStanding.EN_COURS,
    CompetencyStanding.ACQUIS,
)


@dataclass(frozen=True)
class SignOffResult:
    jury_decision: JuryDecision
    check: PanelCheck


def _competencies_of(session: Session, bloc_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Competency.id).where(
                Competency.bloc_id == bloc_id, Competency.retired_at.is_(None)
            )
        )
    )


def panel_check(deliberation: JuryDecision) -> PanelCheck:
    """What the jury rule says of a deliberation's sign-offs so far (loaded ones)."""
    return check_panel(
        SignOff(
            juror_id=s.juror_id,
            juror_name=s.juror_name,
            external=s.external,
            decision=Decision(s.decision),
            signed_at=s.signed_at,
            comment=s.comment,
        )
        for s in deliberation.signoffs
    )


def sign_off(
    session: Session,
    *,
    learner_id: int,
    bloc: Bloc,
    juror_id: str,
    juror_name: str,
    external: bool,
    decision: Decision | str,
    comment: str = "",
    competency: Competency | None = None,
    signed_at: datetime | None = None,
    recorded_by: str,
) -> SignOffResult:
    """Add a juror's sign-off on a learner's bloc (or one of its competencies).

    The sign-off joins the open deliberation (one is opened when none is); when the
    sign-offs satisfy the jury rule the deliberation is decided and the decision
    stands over the computed states.
    """
    if competency is not None and competency.bloc_id != bloc.id:
        raise AchievementError(f"competency {competency.code} is not in {bloc.key}")
    given = SignOff(
        juror_id=juror_id.strip(),
        juror_name=juror_name.strip(),
        external=external,
        decision=cast(Decision, decision),  # SignOff checks and converts it
        signed_at=signed_at or utcnow(),
        comment=comment.strip(),
    )
    competency_id = competency.id if competency is not None else None
    deliberation = session.scalar(
        select(JuryDecision)
        .where(
            JuryDecision.learner_id == learner_id,
            JuryDecision.bloc_id == bloc.id,
            JuryDecision.competency_id.is_(None)
            if competency_id is None
            else JuryDecision.competency_id == competency_id,
            JuryDecision.status == "open",
        )
        .with_for_update()
    )
    if deliberation is None:
        deliberation = JuryDecision(
            learner_id=learner_id, bloc_id=bloc.id, competency_id=competency_id, status="open"
        )
        session.add(deliberation)
        session.flush()
    row = JurySignoff(
        jury_decision_id=deliberation.id,
        juror_id=given.juror_id,
        juror_name=given.juror_name,
        external=given.external,
        decision=given.decision.value,
        comment=given.comment,
        signed_at=given.signed_at,
        recorded_by=recorded_by,
    )
    session.add(row)
    session.flush()
    session.refresh(deliberation, attribute_names=["signoffs"])
    check = panel_check(deliberation)
    target = f"{bloc.key}/{competency.code}" if competency is not None else bloc.key
    audit.record(
        session,
        "jury.signoff",
        actor=recorded_by,
        learner_id=learner_id,
        competency_id=competency_id,
        bloc_id=bloc.id,
        summary=f"{given.juror_name} ({'external' if external else 'internal'}) signed "
        f"{given.decision.value} on {target}",
        juror_id=given.juror_id,
        juror_name=given.juror_name,
        external=external,
        decision=given.decision.value,
        comment=given.comment,
        jury_decision_id=deliberation.id,
        problems=list(check.problems),
    )
    if check.decision is not None:
        deliberation.status = "decided"
        deliberation.decision = check.decision.value
        deliberation.decided_at = max(s.signed_at for s in deliberation.signoffs)
        audit.record(
            session,
            "jury.decided",
            actor=recorded_by,
            learner_id=learner_id,
            competency_id=competency_id,
            bloc_id=bloc.id,
            summary=f"jury decision on {target}: {check.decision.value}",
            decision=check.decision.value,
            jury_decision_id=deliberation.id,
            jurors=[s.juror_id for s in deliberation.signoffs],
        )
        session.flush()
        competencies = [competency_id] if competency_id else _competencies_of(session, bloc.id)
        recompute.recompute_pairs(
            session,
            {(learner_id, c) for c in competencies},
            cause="jury",
            actor=recorded_by,
        )
    return SignOffResult(jury_decision=deliberation, check=check)


def set_override(
    session: Session,
    *,
    learner_id: int,
    competency: Competency,
    state: str | None,
    reason: str,
    actor: str,
) -> CompetencyOverride:
    """A trainer sets a competency's state by hand (``state`` None lifts it); a reason is due."""
    if not reason or not reason.strip():
        raise OverrideReasonMissing("an override needs a reason: say why the rules are overruled")
    if state is not None and state not in {s.value for s in OVERRIDABLE}:
        choices = ", ".join(s.value for s in OVERRIDABLE)
        raise AchievementError(f"unknown state {state!r} for an override: choose {choices}")
    row = CompetencyOverride(
        learner_id=learner_id,
        competency_id=competency.id,
        state=state,
        reason=reason.strip(),
        actor=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "override.set" if state is not None else "override.lifted",
        actor=actor,
        learner_id=learner_id,
        competency_id=competency.id,
        bloc_id=competency.bloc_id,
        summary=f"{competency.code}: "
        + (f"set to {state} by hand" if state else "back to the rules")
        + f" ({reason.strip()})",
        state=state,
        reason=reason.strip(),
    )
    recompute.recompute_pairs(session, {(learner_id, competency.id)}, cause="override", actor=actor)
    return row


def choose_track(session: Session, *, learner_id: int, bloc: Bloc, actor: str) -> LearnerTrack:
    """Record which optional bloc of its option group the learner follows."""
    if not (bloc.optional and bloc.option_group):
        raise AchievementError(f"{bloc.key} is not an optional track: nothing to choose")
    row = session.scalar(
        select(LearnerTrack).where(
            LearnerTrack.learner_id == learner_id,
            LearnerTrack.framework_id == bloc.framework_id,
            LearnerTrack.option_group == bloc.option_group,
        )
    )
    if row is None:
        row = LearnerTrack(
            learner_id=learner_id, framework_id=bloc.framework_id, option_group=bloc.option_group
        )
        session.add(row)
    row.bloc_id = bloc.id
    row.chosen_by = actor
    row.chosen_at = utcnow()
    session.flush()
    audit.record(
        session,
        "track.chosen",
        actor=actor,
        learner_id=learner_id,
        bloc_id=bloc.id,
        summary=f"follows {bloc.key} in {bloc.option_group}",
        option_group=bloc.option_group,
    )
    recompute.refresh_blocs(session, {(learner_id, bloc.id)}, "track", actor=actor)
    return row
