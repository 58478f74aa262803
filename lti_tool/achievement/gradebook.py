"""What the gradebook should show for a learner on a placed resource link, and queueing it.

A learner's score on a link (the whole référentiel, or one bloc) is the **share of
the link's competencies that are acquis or validé** (a bloc validated by the jury
counts all its competencies). For the whole référentiel the competencies are those of
the mandatory blocs plus the learner's Bloc 7 track (chosen, else inferred, else the
first track: :mod:`lti_tool.achievement.tracks`, the rule the pages' totals follow too).
It is sent as ``scoreGiven = share × scoreMaximum`` of the line item.

AGS 2.0 §3.4.7-8 (Score publish service), with Moodle's reading of it:
* ``gradingProgress`` is ``FullyGraded``: the share is a final computation of the
  current achievement (Moodle discards ``scoreGiven`` under any other value).
* ``activityProgress`` is ``Completed`` when every competency of the link is acquis or
  validé or the jury decided every bloc of it, ``InProgress`` once there is evidence,
  ``Initialized`` otherwise.
* ``timestamp`` is strictly increasing per learner and line item, to the second
  (Moodle answers 409 to a timestamp not newer than the one it holds).
* ``comment`` names what was acquired and the jury's decision (Moodle's feedback).

A score is queued in the outbox, in the caller's transaction, only when one of these
differs from the last one queued for the same learner and link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.achievement.models import (
    BlocState,
    CompetencyState,
    JuryDecision,
    ScoreOutbox,
    ScoreSyncState,
)
from lti_tool.achievement.tracks import counted_blocs
from lti_tool.models.people import CourseContext, Membership
from lti_tool.models.resource_link import ResourceLink
from referentiel.models import Bloc, Competency, Framework
from referentiel.orm import utcnow

ACQUIRED = ("acquis", "valide")


@dataclass(frozen=True)
class LinkScore:
    share: float
    acquired: int
    total: int
    comment: str
    activity_progress: str
    grading_progress: str = "FullyGraded"


def _bloc_label(bloc: Bloc) -> str:
    return f"Bloc {bloc.key.removeprefix('bloc-')}"


def scope_blocs(session: Session, link: ResourceLink, learner_id: int) -> list[Bloc]:
    """The blocs whose competencies a link's score counts, for this learner."""
    framework = session.scalar(select(Framework).where(Framework.key == link.framework_key))
    if framework is None:
        return []
    blocs = [b for b in framework.blocs if b.retired_at is None]
    if link.bloc_key is not None:
        return [b for b in blocs if b.key == link.bloc_key]
    return counted_blocs(session, [learner_id], blocs)[learner_id].blocs


def link_score(session: Session, link: ResourceLink, learner_id: int) -> LinkScore | None:
    """The score this learner should have on the link now (None: the link counts nothing)."""
    blocs = scope_blocs(session, link, learner_id)
    if not blocs:
        return None
    bloc_ids = [b.id for b in blocs]
    competencies = list(
        session.execute(
            select(Competency.id, Competency.code, Competency.bloc_id)
            .where(Competency.bloc_id.in_(bloc_ids), Competency.retired_at.is_(None))
            .order_by(Competency.bloc_id, Competency.position)
        )
    )
    if not competencies:
        return None
    states: dict[int, str] = {
        competency_id: state
        for competency_id, state in session.execute(
            select(CompetencyState.competency_id, CompetencyState.state).where(
                CompetencyState.learner_id == learner_id,
                CompetencyState.bloc_id.in_(bloc_ids),
            )
        )
    }
    bloc_states = {
        s.bloc_id: s
        for s in session.scalars(
            select(BlocState).where(
                BlocState.learner_id == learner_id, BlocState.bloc_id.in_(bloc_ids)
            )
        )
    }
    decisions = {
        d.id: d
        for d in session.scalars(
            select(JuryDecision).where(
                JuryDecision.id.in_(
                    [s.jury_decision_id for s in bloc_states.values() if s.jury_decision_id]
                )
            )
        )
    }
    acquired_total = 0
    any_evidence = False
    all_done = True
    parts: list[str] = []
    for bloc in blocs:
        members = [c for c in competencies if c.bloc_id == bloc.id]
        bloc_state = bloc_states.get(bloc.id)
        validated = bloc_state is not None and bloc_state.state == "valide"
        codes = [c.code for c in members if validated or states.get(c.id) in ACQUIRED]
        acquired_total += len(codes)
        any_evidence = any_evidence or any(
            states.get(c.id, "non_acquis") != "non_acquis" for c in members
        )
        decided = bloc_state is not None and bloc_state.state in ("valide", "non_valide")
        all_done = all_done and (decided or len(codes) == len(members))
        part = f"{_bloc_label(bloc)} : {len(codes)}/{len(members)}"
        if codes and len(codes) < len(members):
            part += f" ({', '.join(codes)})"
        decision = decisions.get(bloc_state.jury_decision_id or 0) if bloc_state else None
        if decision is not None and decision.decided_at is not None:
            verdict = "validé" if decision.decision == "validated" else "non validé"
            part += f", {verdict} par le jury le {decision.decided_at:%d/%m/%Y}"
        elif bloc_state is not None and bloc_state.state == "pret_pour_jury":
            part += ", prêt pour le jury"
        parts.append(part)
    total = len(competencies)
    comment = f"{acquired_total}/{total} compétences acquises ou validées. " + " ; ".join(parts)
    if all_done:
        progress = "Completed"
    elif any_evidence or acquired_total:
        progress = "InProgress"
    else:
        progress = "Initialized"
    return LinkScore(
        share=acquired_total / total,
        acquired=acquired_total,
        total=total,
        comment=comment,
        activity_progress=progress,
    )


def _links_for(
    session: Session, learner_ids: Iterable[int], bloc_ids: Iterable[int]
) -> list[tuple[ResourceLink, int]]:
    """(link, learner) pairs the changed blocs feed: the learner's courses' links on them.

    It runs at every derivation round, where there is most often none: the pairs are
    found first as plain ids (a link on a whole framework is joined once per changed
    bloc of it, hence the ids made distinct), and links are loaded only when some are.
    """
    pairs = list(
        dict.fromkeys(
            session.execute(
                select(ResourceLink.id, Membership.user_id)
                .join(Membership, Membership.context_id == ResourceLink.context_id)
                .join(Framework, Framework.key == ResourceLink.framework_key)
                .join(Bloc, Bloc.framework_id == Framework.id)
                .where(
                    Bloc.id.in_(sorted(set(bloc_ids))),
                    Membership.user_id.in_(sorted(set(learner_ids))),
                    Membership.is_learner.is_(True),
                    Membership.active.is_(True),
                    or_(ResourceLink.bloc_key.is_(None), ResourceLink.bloc_key == Bloc.key),
                )
                .order_by(ResourceLink.id, Membership.user_id)
            ).tuples()
        )
    )
    if not pairs:
        return []
    links = {
        link.id: link
        for link in session.scalars(
            select(ResourceLink).where(ResourceLink.id.in_(sorted({i for i, _ in pairs})))
        )
    }
    return [(links[link_id], learner_id) for link_id, learner_id in pairs]


def _has_ags(session: Session, link: ResourceLink) -> bool:
    if link.lineitem_url:
        return True
    return bool(
        session.scalar(
            select(CourseContext.ags_lineitems_url).where(CourseContext.id == link.context_id)
        )
    )


def _sync_state(session: Session, link_id: int, learner_id: int) -> ScoreSyncState:
    """The pair's sync row, locked until the transaction ends (created when missing)."""
    query = (
        select(ScoreSyncState)
        .where(ScoreSyncState.resource_link_id == link_id, ScoreSyncState.learner_id == learner_id)
        .with_for_update()
    )
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ScoreSyncState(resource_link_id=link_id, learner_id=learner_id)
            session.add(row)
        return row
    except IntegrityError:  # another transaction created it first: wait for its lock
        found = session.scalar(query.execution_options(populate_existing=True))
        assert found is not None
        return found


def next_timestamp(last: datetime | None, now: datetime) -> datetime:
    """Now to the second, but always at least one second after the last timestamp."""
    candidate = now.replace(microsecond=0)
    if last is not None and candidate <= last:
        candidate = last.replace(microsecond=0) + timedelta(seconds=1)
    return candidate


def queue_score(
    session: Session, link: ResourceLink, learner_id: int, *, cause: str
) -> ScoreOutbox | None:
    """Queue the learner's current score on the link, when it changed since the last one."""
    if not _has_ags(session, link):
        return None
    score = link_score(session, link, learner_id)
    if score is None:
        return None
    sync = _sync_state(session, link.id, learner_id)
    if sync.last_timestamp is None and score.activity_progress == "Initialized":
        return None  # nothing to say yet
    if (sync.last_share, sync.last_comment, sync.last_activity_progress) == (
        score.share,
        score.comment,
        score.activity_progress,
    ):
        return None
    timestamp = next_timestamp(sync.last_timestamp, utcnow())
    row = ScoreOutbox(
        resource_link_id=link.id,
        learner_id=learner_id,
        share=score.share,
        comment=score.comment,
        activity_progress=score.activity_progress,
        grading_progress=score.grading_progress,
        score_timestamp=timestamp,
        cause=cause,
        status="pending",
        next_attempt_at=utcnow(),
    )
    session.add(row)
    sync.last_timestamp = timestamp
    sync.last_share = score.share
    sync.last_comment = score.comment
    sync.last_activity_progress = score.activity_progress
    session.flush()
    return row


def queue_scores(
    session: Session, learner_ids: Iterable[int], bloc_ids: Iterable[int], *, cause: str
) -> list[ScoreOutbox]:
    """Queue every score the changed blocs feed, for the given learners."""
    queued = []
    for link, learner_id in _links_for(session, learner_ids, bloc_ids):
        row = queue_score(session, link, learner_id, cause=cause)
        if row is not None:
            queued.append(row)
    return queued
