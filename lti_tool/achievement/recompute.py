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
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from lti_tool.achievement import gradebook
from lti_tool.achievement.models import (
    BlocState,
    CompetencyOverride,
    CompetencyState,
    JuryDecision,
)
from lti_tool.achievement.rules import rules_in_force
from referentiel.achievement import (
    Achievement,
    EvidenceItem,
    Rule,
    Tally,
    evaluate,
    evaluate_more,
)
from referentiel.audit import AuditEvent, event_values
from referentiel.certification import bloc_standing, competency_standing
from referentiel.jury import Decision
from referentiel.models import Bloc, Competency
from referentiel.orm import utcnow
from xapi.evidence_lock import serialise
from xapi.models import Evidence
from xapi.signals import evidence_changed
from xapi.value_lists import insert_rows, pairs_of

Pair = tuple[int, int]  # (learner_id, competency_id)
# The evidence columns the rules read: EvidenceItem's fields, in their order.
_ITEM_COLUMNS = tuple(item_field.name for item_field in fields(EvidenceItem))
_item_values = itemgetter(*_ITEM_COLUMNS)

# States and bloc states are read as plain rows and written with Core, one executemany
# UPDATE and one INSERT per round: a derivation round rewrites one state per touched
# pair, and the ORM's unit of work (attribute events, flush bookkeeping) cost more than
# the rules themselves. Every column is written, changed or not, as the ORM flush did.
_STATES = cast(Table, CompetencyState.__table__)
_BLOC_STATES = cast(Table, BlocState.__table__)
_AUDIT = cast(Table, AuditEvent.__table__)
_STATE_READ = select(
    _STATES.c.id,
    _STATES.c.learner_id,
    _STATES.c.competency_id,
    _STATES.c.state,
    _STATES.c.computed_state,
    _STATES.c.conflicting,
    _STATES.c.rule_version,
    _STATES.c.explanation,
    _STATES.c.tally,
)
_BLOC_STATE_READ = select(
    _BLOC_STATES.c.id, _BLOC_STATES.c.learner_id, _BLOC_STATES.c.bloc_id, _BLOC_STATES.c.state
)
# SET takes the columns each parameter set names; the row is named by ``row_id``.
_UPDATES = {
    CompetencyState: update(_STATES).where(_STATES.c.id == bindparam("row_id")),
    BlocState: update(_BLOC_STATES).where(_BLOC_STATES.c.id == bindparam("row_id")),
}


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
            only_added[pair].append(EvidenceItem(*_item_values(row)))
    recompute_pairs(sender, set(touched), cause="evidence", added=only_added)


def _latest_jury(
    session: Session, learner_ids: set[int], bloc_ids: set[int]
) -> tuple[dict[Pair, Row[Any]], dict[Pair, Row[Any]]]:
    """Decided jury decisions (id and decision), the latest per (learner, competency)
    and per (learner, bloc)."""
    rows = session.connection().execute(
        select(
            JuryDecision.id,
            JuryDecision.learner_id,
            JuryDecision.bloc_id,
            JuryDecision.competency_id,
            JuryDecision.decision,
        )
        .where(
            JuryDecision.status == "decided",
            JuryDecision.learner_id.in_(sorted(learner_ids)),
            JuryDecision.bloc_id.in_(sorted(bloc_ids)),
        )
        .order_by(JuryDecision.decided_at, JuryDecision.id)
    )
    per_competency: dict[Pair, Row[Any]] = {}
    per_bloc: dict[Pair, Row[Any]] = {}
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
    ).where(pairs_of(session, Evidence.learner_id, Evidence.competency_id, pairs))
    for learner_id, competency_id, *item in session.connection().execute(query):
        evidence[(learner_id, competency_id)].append(EvidenceItem(*item))
    return evidence


def _write(
    session: Session,
    model: type[CompetencyState | BlocState],
    updates: list[dict[str, Any]],
    inserts: list[dict[str, Any]],
) -> None:
    """Rewrite rows by id and insert new ones; a row of ``updates`` already loaded as
    an ORM object in the session is expired, so that it is read again when used."""
    connection = session.connection()
    if updates:
        connection.execute(_UPDATES[model], updates)
        for values in updates:
            loaded = session.identity_map.get(identity_key(model, values["row_id"]))
            if loaded is not None:
                session.expire(loaded)
    insert_rows(connection, cast(Table, model.__table__), inserts)


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
    session.flush()  # what follows reads and writes through the connection
    connection = session.connection()
    competency_ids = {c for _, c in pairs}
    learner_ids = {learner for learner, _ in pairs}
    # The competencies of the pairs' blocs: the pairs' own, and the members each bloc
    # state counts (read again by refresh_blocs otherwise).
    bloc_members = connection.execute(
        select(
            Competency.id,
            Competency.code,
            Competency.bloc_id,
            Competency.retired_at,
            Bloc.key,
            Bloc.framework_id,
        )
        .join(Bloc, Bloc.id == Competency.bloc_id)
        .where(
            Competency.bloc_id.in_(
                select(Competency.bloc_id).where(Competency.id.in_(sorted(competency_ids)))
            )
        )
    ).all()
    competencies = {row.id: row for row in bloc_members if row.id in competency_ids}
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
        for s in connection.execute(
            _STATE_READ.where(
                pairs_of(session, _STATES.c.learner_id, _STATES.c.competency_id, pairs)
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
    for learner_id, competency_id, override_state in connection.execute(
        select(
            CompetencyOverride.learner_id,
            CompetencyOverride.competency_id,
            CompetencyOverride.state,
        )
        .where(
            pairs_of(
                session, CompetencyOverride.learner_id, CompetencyOverride.competency_id, pairs
            )
        )
        .order_by(CompetencyOverride.id)
    ):
        overrides[(learner_id, competency_id)] = override_state
    bloc_ids = {c.bloc_id for c in competencies.values()}
    jury_per_competency, jury_per_bloc = _latest_jury(session, learner_ids, bloc_ids)
    changed: set[Pair] = set()
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
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
        values = {
            "state": standing.value,
            "state_source": source,
            "computed_state": result.state.value,
            "score": result.score,
            "evidence_count": result.evidence_count,
            "last_evidence_at": result.last_evidence_at,
            "conflicting": result.conflicting,
            "rule_version": version,
            "explanation": {**result.explanation(), "rule": written},
            "tally": result.tally.to_json() if result.tally is not None else None,
            "computed_at": as_of,
            "expires_at": result.expires_at,
        }
        state = existing.get(pair)
        if state is None:
            before = None
            inserts.append(
                {
                    "learner_id": learner_id,
                    "competency_id": competency_id,
                    "bloc_id": competency.bloc_id,
                    **values,
                }
            )
        else:
            before = (state.state, state.computed_state, state.conflicting)
            updates.append({"row_id": state.id, **values})
        after = (values["state"], values["computed_state"], values["conflicting"])
        if before != after:
            changed.add(pair)
            events.append(
                event_values(
                    "achievement.changed",
                    actor=actor,
                    learner_id=learner_id,
                    competency_id=competency_id,
                    bloc_id=competency.bloc_id,
                    summary=f"{competency.key}/{competency.code}: "
                    f"{before[0] if before else 'non_acquis'} → {standing.value} ({source}; "
                    f"rules v{version}: {result.summary})",
                    cause=cause,
                    state=standing.value,
                    source=source,
                    computed_state=result.state.value,
                    conflicting=result.conflicting,
                    rule_version=version,
                    score=result.score,
                )
            )
    _write(session, CompetencyState, updates, inserts)
    insert_rows(connection, _AUDIT, events)
    learner_blocs = {(learner, competencies[c].bloc_id) for learner, c in pairs}
    if learner_blocs:
        members: dict[int, set[int]] = defaultdict(set)
        for row in bloc_members:
            if row.retired_at is None:
                members[row.bloc_id].add(row.id)
        _refresh_blocs(session, learner_blocs, cause, actor, jury_per_bloc, members)
    return changed


def refresh_blocs(
    session: Session, learner_blocs: set[Pair], cause: str, *, actor: str = "system"
) -> None:
    """Re-derive bloc states for (learner, bloc) pairs, then queue the scores they feed."""
    if not learner_blocs:
        return
    session.flush()  # what follows reads and writes through the connection
    learner_ids = {learner for learner, _ in learner_blocs}
    bloc_ids = {bloc for _, bloc in learner_blocs}
    bloc_competencies: dict[int, set[int]] = defaultdict(set)
    for competency_id, bloc_id in session.connection().execute(
        select(Competency.id, Competency.bloc_id).where(
            Competency.bloc_id.in_(sorted(bloc_ids)), Competency.retired_at.is_(None)
        )
    ):
        bloc_competencies[bloc_id].add(competency_id)
    _, jury_per_bloc = _latest_jury(session, learner_ids, bloc_ids)
    _refresh_blocs(session, learner_blocs, cause, actor, jury_per_bloc, bloc_competencies)


def _refresh_blocs(
    session: Session,
    learner_blocs: set[Pair],
    cause: str,
    actor: str,
    jury_per_bloc: Mapping[Pair, Row[Any]],
    bloc_competencies: Mapping[int, set[int]],
) -> None:
    """:func:`refresh_blocs`, with the latest jury decisions per (learner, bloc) and
    the blocs' competencies not retired known (:func:`recompute_pairs` read them with
    what it needed itself)."""
    connection = session.connection()
    learner_ids = {learner for learner, _ in learner_blocs}
    bloc_ids = {bloc for _, bloc in learner_blocs}
    standings: dict[Pair, dict[int, str]] = defaultdict(dict)
    for learner_id, bloc_id, competency_id, state in connection.execute(
        select(
            CompetencyState.learner_id,
            CompetencyState.bloc_id,
            CompetencyState.competency_id,
            CompetencyState.state,
        ).where(
            pairs_of(session, CompetencyState.learner_id, CompetencyState.bloc_id, learner_blocs)
        )
    ):
        standings[(learner_id, bloc_id)][competency_id] = state
    existing = {
        (row.learner_id, row.bloc_id): row
        for row in connection.execute(
            _BLOC_STATE_READ.where(
                pairs_of(session, _BLOC_STATES.c.learner_id, _BLOC_STATES.c.bloc_id, learner_blocs)
            )
        )
    }
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for pair in sorted(learner_blocs):
        learner_id, bloc_id = pair
        members = bloc_competencies.get(bloc_id, set())
        states = [standings[pair].get(c, "non_acquis") for c in members]
        jury = jury_per_bloc.get(pair)
        standing = bloc_standing(
            states, Decision(jury.decision) if jury is not None and jury.decision else None
        )
        acquired = sum(1 for s in states if s in ("acquis", "valide"))
        values = {
            "state": standing.value,
            "acquired": acquired,
            "total": len(members),
            "jury_decision_id": jury.id if jury is not None else None,
            "updated_at": utcnow(),
        }
        row = existing.get(pair)
        if row is None:
            before = None
            inserts.append({"learner_id": learner_id, "bloc_id": bloc_id, **values})
        else:
            before = row.state
            updates.append({"row_id": row.id, **values})
        if before != standing.value:
            events.append(
                event_values(
                    "bloc.changed",
                    actor=actor,
                    learner_id=learner_id,
                    competency_id=None,
                    bloc_id=bloc_id,
                    summary=f"bloc {bloc_id}: {before or 'non_acquis'} → {standing.value}",
                    cause=cause,
                    state=standing.value,
                    acquired=acquired,
                    total=len(members),
                )
            )
    _write(session, BlocState, updates, inserts)
    insert_rows(connection, _AUDIT, events)
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
