"""Keep computed states current: only the (learner, competency) pairs that changed.

The receiver runs inside the transaction that changed the evidence (it is connected
to ``xapi.signals.evidence_changed``), so a state, the bloc state above it, the audit
entry and the gradebook score it causes all commit with their cause, or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from lti_tool.achievement import gradebook
from lti_tool.achievement.models import (
    BlocState,
    CompetencyOverride,
    CompetencyState,
    JuryDecision,
)
from lti_tool.achievement.rules import rules_in_force
from referentiel import audit
from referentiel.achievement import (
    Achievement,
    EvidenceItem,
    Rule,
    Tally,
    evaluate,
    evaluate_more,
)
from referentiel.certification import bloc_standing, competency_standing
from referentiel.jury import Decision
from referentiel.models import Bloc, Competency
from referentiel.orm import utcnow
from xapi.evidence_lock import serialise
from xapi.models import Evidence
from xapi.signals import evidence_changed
from xapi.value_lists import one_of

Pair = tuple[int, int]  # (learner_id, competency_id)
# The evidence columns the rules read: EvidenceItem's fields, in their order.
_ITEM_COLUMNS = tuple(item_field.name for item_field in fields(EvidenceItem))

# What a recomputation writes of a state, and of a bloc state.
_STATE_COLUMNS = (
    "state",
    "state_source",
    "computed_state",
    "score",
    "evidence_count",
    "last_evidence_at",
    "conflicting",
    "rule_version",
    "explanation",
    "tally",
    "computed_at",
    "expires_at",
)
_BLOC_COLUMNS = ("state", "acquired", "total", "jury_decision_id", "updated_at")


def _rewrite_all(row: object, columns: tuple[str, ...]) -> None:
    """Write every column of ``row``, changed or not: the flush then sends all the rows
    of a round as one batched UPDATE, where updates of different columns would each be a
    statement of its own (a round trip each on PostgreSQL)."""
    for name in columns:
        flag_modified(row, name)


@evidence_changed.connect
def _on_evidence_changed(
    sender: Session,
    touched: Iterable[Pair] = (),
    added: Iterable[Mapping[str, Any]] = (),
    withdrawn: Iterable[Pair] = (),
    **_: Any,
) -> None:
    lost = set(withdrawn)
    only_added: dict[Pair, list[EvidenceItem]] = defaultdict(list)
    for row in added:
        pair = (row["learner_id"], row["competency_id"])
        if pair not in lost:
            only_added[pair].append(EvidenceItem(*(row[name] for name in _ITEM_COLUMNS)))
    recompute_pairs(sender, set(touched), cause="evidence", added=only_added)


def _pair_filter(session: Session, learner_col: Any, other_col: Any, pairs: set[Pair]) -> Any:
    """A superset of ``pairs``: every learner among them × every competency (or bloc).

    Two array (PostgreSQL) or expanding IN (SQLite) parameters, so the statement is
    compiled once and cached whatever the number of pairs (an OR of one term per
    learner was compiled anew for each batch). Callers keep only the rows whose pair is
    wanted; the extra rows are few (a batch touches few competencies).
    """
    return and_(
        one_of(session, learner_col, sorted({learner for learner, _ in pairs})),
        one_of(session, other_col, sorted({other for _, other in pairs})),
    )


def _latest_jury(
    session: Session, learner_ids: set[int], bloc_ids: set[int]
) -> tuple[dict[Pair, JuryDecision], dict[Pair, JuryDecision]]:
    """Decided jury decisions, the latest per (learner, competency) and (learner, bloc)."""
    rows = session.scalars(
        select(JuryDecision)
        .where(
            JuryDecision.status == "decided",
            JuryDecision.learner_id.in_(sorted(learner_ids)),
            JuryDecision.bloc_id.in_(sorted(bloc_ids)),
        )
        .order_by(JuryDecision.decided_at, JuryDecision.id)
    )
    per_competency: dict[Pair, JuryDecision] = {}
    per_bloc: dict[Pair, JuryDecision] = {}
    for row in rows:
        if row.competency_id is None:
            per_bloc[(row.learner_id, row.bloc_id)] = row
        else:
            per_competency[(row.learner_id, row.competency_id)] = row
    return per_competency, per_bloc


def _evidence_of(session: Session, pairs: set[Pair]) -> dict[Pair, list[EvidenceItem]]:
    """Every piece of evidence of the pairs, read through the session's connection as
    plain rows: a pair may hold hundreds, and ORM row handling cost more than the rules."""
    evidence: dict[Pair, list[EvidenceItem]] = defaultdict(list)
    if not pairs:  # every pair followed from its tally
        return evidence
    query = select(
        Evidence.learner_id,
        Evidence.competency_id,
        *(Evidence.__table__.c[name] for name in _ITEM_COLUMNS),
    ).where(_pair_filter(session, Evidence.learner_id, Evidence.competency_id, pairs))
    for learner_id, competency_id, *item in session.connection().execute(query):
        if (learner_id, competency_id) in pairs:
            evidence[(learner_id, competency_id)].append(EvidenceItem(*item))
    return evidence


def recompute_pairs(
    session: Session,
    pairs: set[Pair],
    *,
    cause: str,
    actor: str = "system",
    as_of: datetime | None = None,
    added: Mapping[Pair, list[EvidenceItem]] | None = None,
) -> set[Pair]:
    """Recompute the given pairs, their blocs and the gradebook scores they feed.

    ``added``: pairs whose only change is these new pieces of evidence. When they all
    come after what the pair's state already counted, under the same rules, the state
    is computed from its tally and them, without reading the pair's other evidence:
    a learner's hundredth quiz costs what the first did.

    Returns the pairs whose standing changed. Nothing is committed here.
    """
    if not pairs:
        return set()
    serialise(session)
    as_of = as_of or utcnow()
    session.flush()
    competency_ids = {c for _, c in pairs}
    learner_ids = {learner for learner, _ in pairs}
    competencies = {
        row.id: row
        for row in session.execute(
            select(Competency.id, Competency.code, Competency.bloc_id, Bloc.key, Bloc.framework_id)
            .join(Bloc, Bloc.id == Competency.bloc_id)
            .where(Competency.id.in_(sorted(competency_ids)))
        )
    }
    pairs = {p for p in pairs if p[1] in competencies}
    rules = {
        framework_id: rules_in_force(session, framework_id)
        for framework_id in {c.framework_id for c in competencies.values()}
    }
    # Per competency, once: its rule, the rules' version, and the rule as explanations
    # record it (compared with a state's to tell whether its tally still applies).
    rule_of: dict[int, tuple[Rule, int, dict[str, Any]]] = {}
    for competency_id, competency in competencies.items():
        setting, version = rules[competency.framework_id]
        rule = setting.rule_for(competency.key, competency.code)
        rule_of[competency_id] = (rule, version, rule.to_dict())
    existing = {
        (s.learner_id, s.competency_id): s
        for s in session.scalars(
            select(CompetencyState).where(
                _pair_filter(
                    session, CompetencyState.learner_id, CompetencyState.competency_id, pairs
                )
            )
        )
    }
    results: dict[Pair, Achievement] = {}
    for pair, items in (added or {}).items():
        state = existing.get(pair)
        if pair not in pairs or state is None or state.tally is None:
            continue
        rule, version, written = rule_of[pair[1]]
        if state.rule_version == version and state.explanation.get("rule") == written:
            more = evaluate_more(rule, Tally.from_json(state.tally, state.explanation), items)
            if more is not None:
                results[pair] = more
    evidence = _evidence_of(session, pairs - results.keys())
    overrides: dict[Pair, str | None] = {}
    for override in session.scalars(
        select(CompetencyOverride)
        .where(
            _pair_filter(
                session, CompetencyOverride.learner_id, CompetencyOverride.competency_id, pairs
            )
        )
        .order_by(CompetencyOverride.id)
    ):
        overrides[(override.learner_id, override.competency_id)] = override.state
    bloc_ids = {c.bloc_id for c in competencies.values()}
    jury_per_competency, _ = _latest_jury(session, learner_ids, bloc_ids)
    changed: set[Pair] = set()
    for pair in sorted(pairs):
        learner_id, competency_id = pair
        competency = competencies[competency_id]
        rule, version, written = rule_of[competency_id]
        result = results.get(pair) or evaluate(rule, evidence.get(pair, []), as_of)
        jury = jury_per_competency.get(pair)
        standing, source = competency_standing(
            result.state.value,
            overrides.get(pair),
            Decision(jury.decision) if jury is not None and jury.decision else None,
        )
        state = existing.get(pair)
        before = (state.state, state.computed_state, state.conflicting) if state else None
        if state is None:
            state = CompetencyState(
                learner_id=learner_id, competency_id=competency_id, bloc_id=competency.bloc_id
            )
            session.add(state)
        state.state = standing.value
        state.state_source = source
        state.computed_state = result.state.value
        state.score = result.score
        state.evidence_count = result.evidence_count
        state.last_evidence_at = result.last_evidence_at
        state.conflicting = result.conflicting
        state.rule_version = version
        state.explanation = {**result.explanation(), "rule": written}
        state.tally = result.tally.to_json() if result.tally is not None else None
        if pair in existing:
            _rewrite_all(state, _STATE_COLUMNS)
        state.computed_at = as_of
        state.expires_at = result.expires_at
        after = (state.state, state.computed_state, state.conflicting)
        if before != after:
            changed.add(pair)
            audit.record(
                session,
                "achievement.changed",
                actor=actor,
                learner_id=learner_id,
                competency_id=competency_id,
                bloc_id=competency.bloc_id,
                summary=f"{competency.key}/{competency.code}: "
                f"{before[0] if before else 'non_acquis'} → {state.state} ({source}; "
                f"rules v{version}: {result.summary})",
                cause=cause,
                state=state.state,
                source=source,
                computed_state=state.computed_state,
                conflicting=state.conflicting,
                rule_version=version,
                score=result.score,
            )
    session.flush()
    refresh_blocs(
        session, {(learner, competencies[c].bloc_id) for learner, c in pairs}, cause, actor=actor
    )
    return changed


def refresh_blocs(
    session: Session, learner_blocs: set[Pair], cause: str, *, actor: str = "system"
) -> None:
    """Re-derive bloc states for (learner, bloc) pairs, then queue the scores they feed."""
    if not learner_blocs:
        return
    learner_ids = {learner for learner, _ in learner_blocs}
    bloc_ids = {bloc for _, bloc in learner_blocs}
    bloc_competencies: dict[int, set[int]] = defaultdict(set)
    for competency_id, bloc_id in session.execute(
        select(Competency.id, Competency.bloc_id).where(
            Competency.bloc_id.in_(sorted(bloc_ids)), Competency.retired_at.is_(None)
        )
    ):
        bloc_competencies[bloc_id].add(competency_id)
    standings: dict[Pair, dict[int, str]] = defaultdict(dict)
    for learner_id, bloc_id, competency_id, state in session.execute(
        select(
            CompetencyState.learner_id,
            CompetencyState.bloc_id,
            CompetencyState.competency_id,
            CompetencyState.state,
        ).where(
            _pair_filter(
                session, CompetencyState.learner_id, CompetencyState.bloc_id, learner_blocs
            )
        )
    ):
        standings[(learner_id, bloc_id)][competency_id] = state
    _, jury_per_bloc = _latest_jury(session, learner_ids, bloc_ids)
    existing = {
        (s.learner_id, s.bloc_id): s
        for s in session.scalars(
            select(BlocState).where(
                _pair_filter(session, BlocState.learner_id, BlocState.bloc_id, learner_blocs)
            )
        )
    }
    for pair in sorted(learner_blocs):
        learner_id, bloc_id = pair
        members = bloc_competencies.get(bloc_id, set())
        states = [standings[pair].get(c, "non_acquis") for c in members]
        jury = jury_per_bloc.get(pair)
        standing = bloc_standing(
            states, Decision(jury.decision) if jury is not None and jury.decision else None
        )
        acquired = sum(1 for s in states if s in ("acquis", "valide"))
        row = existing.get(pair)
        before = row.state if row else None
        if row is None:
            row = BlocState(learner_id=learner_id, bloc_id=bloc_id)
            session.add(row)
        row.state = standing.value
        row.acquired = acquired
        row.total = len(members)
        row.jury_decision_id = jury.id if jury is not None else None
        row.updated_at = utcnow()
        if pair in existing:
            _rewrite_all(row, _BLOC_COLUMNS)
        if before != row.state:
            audit.record(
                session,
                "bloc.changed",
                actor=actor,
                learner_id=learner_id,
                bloc_id=bloc_id,
                summary=f"bloc {bloc_id}: {before or 'non_acquis'} → {row.state}",
                cause=cause,
                state=row.state,
                acquired=acquired,
                total=len(members),
            )
    session.flush()
    gradebook.queue_scores(session, learner_ids, bloc_ids, cause=cause)


def recompute_learners(
    session: Session, framework_id: int, learner_ids: Iterable[int], *, cause: str, actor: str
) -> int:
    """Recompute every competency of a framework for the given learners."""
    competency_ids = list(
        session.scalars(
            select(Competency.id)
            .join(Bloc, Bloc.id == Competency.bloc_id)
            .where(Bloc.framework_id == framework_id, Competency.retired_at.is_(None))
        )
    )
    count = 0
    for learner_id in sorted(set(learner_ids)):
        recompute_pairs(
            session, {(learner_id, c) for c in competency_ids}, cause=cause, actor=actor
        )
        count += 1
    return count


def recompute_framework(session: Session, framework_id: int, *, cause: str, actor: str) -> int:
    """Recompute a framework for every learner with evidence or a state (after a rule change)."""
    serialise(session)  # no learner gets first evidence while they are listed
    with_evidence = select(Evidence.learner_id).join(
        Competency, Competency.id == Evidence.competency_id
    )
    with_state = select(CompetencyState.learner_id).join(
        Competency, Competency.id == CompetencyState.competency_id
    )
    learners: set[int] = set()
    for query in (with_evidence, with_state):
        learners.update(
            session.scalars(
                query.join(Bloc, Bloc.id == Competency.bloc_id)
                .where(Bloc.framework_id == framework_id)
                .distinct()
            )
        )
    return recompute_learners(session, framework_id, learners, cause=cause, actor=actor)


def recompute_expired(session: Session, now: datetime | None = None) -> int:
    """Recompute states whose counted evidence has left its validity period since."""
    now = now or utcnow()
    pairs = set(
        session.execute(
            select(CompetencyState.learner_id, CompetencyState.competency_id).where(
                CompetencyState.expires_at <= now
            )
        ).tuples()
    )
    recompute_pairs(session, pairs, cause="validity", as_of=now)
    return len(pairs)
