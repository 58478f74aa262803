"""Evidence: statements counted for a learner and a competency.

Derivation runs after storage, for the statements storage queued (stored or voided:
:mod:`xapi.derivation`), and again when a learner becomes known
(:func:`resolve_pending_for_user`) or a mapping rule is added or removed. Every path
goes through :func:`rederive`, which computes what evidence a list of statements should
give and makes the table say exactly that.

A statement gives evidence when:
- it is not voided and is not itself a voiding statement;
- its actor is an Agent that names an LTI user (:mod:`xapi.learners`); when the
  statement came through a credential bound to a platform (``platform_issuer``),
  only that platform's users count;
- it names at least one competency (:mod:`xapi.mapping`);
- it carries an outcome: a score, ``success`` or ``completion`` in its result, or
  a verb that implies one (passed, mastered, failed, completed). Launches,
  initialisations and page views say nothing about a competency and are kept as
  statements only.

Withdrawn evidence is deleted (the Evidence table holds the current evidence only);
the audit trail keeps an ``evidence.added`` and an ``evidence.withdrawn`` event per
row, so nothing is lost from history. Every change sends
``xapi.signals.evidence_changed`` with the touched (learner, competency) pairs.

Cost: a fixed number of queries per list of statements (learners: at most three,
competencies: two, existing evidence: one, then one bulk insert for evidence and one
for audit events), never one per statement; ``bench/evidence_bench.py`` measures it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeGuard, cast

import orjson
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from referentiel.audit import AuditEvent
from xapi import actors, learners, mapping
from xapi.evidence_lock import serialise
from xapi.models import Evidence, Statement
from xapi.signals import evidence_changed
from xapi.value_lists import chunks, insert_rows, one_of

log = logging.getLogger(__name__)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
MASTERY_SCORE = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore"
# Verbs whose meaning fixes success or completion when the result leaves it out
# (ADL vocabulary, used by cmi5 §9.3).
SUCCESS_VERBS = {
    "http://adlnet.gov/expapi/verbs/passed": True,
    "http://adlnet.gov/expapi/verbs/mastered": True,
    "http://adlnet.gov/expapi/verbs/failed": False,
}
COMPLETION_VERBS = {"http://adlnet.gov/expapi/verbs/completed"}

Touched = set[tuple[int, int]]
_EVIDENCE_TABLE = cast(Table, Evidence.__table__)
_AUDIT_TABLE = cast(Table, AuditEvent.__table__)
_EvidenceKey = tuple[str, int, int]  # statement id, learner id, competency id


@dataclass
class EvidenceChange:
    """What one derivation did: rows added and withdrawn, and the pairs they touch."""

    added: int = 0
    withdrawn: int = 0
    touched: Touched = field(default_factory=set)

    def __ior__(self, other: EvidenceChange) -> EvidenceChange:
        self.added += other.added
        self.withdrawn += other.withdrawn
        self.touched |= other.touched
        return self


class StatementFacts(Protocol):
    """What derivation reads of a stored statement: an ORM ``Statement`` or a row of
    :data:`FACTS` (read as plain rows: building ORM objects was a tenth of a round)."""

    @property
    def id(self) -> str: ...
    @property
    def raw(self) -> str: ...
    @property
    def voided(self) -> bool: ...
    @property
    def verb_id(self) -> str: ...
    @property
    def actor_key(self) -> str: ...
    @property
    def platform_issuer(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime: ...


FACTS = select(
    Statement.id,
    Statement.raw,
    Statement.voided,
    Statement.verb_id,
    Statement.actor_key,
    Statement.platform_issuer,
    Statement.timestamp,
)


def statement_facts(session: Session, statement_ids: Sequence[str]) -> list[StatementFacts]:
    """The facts of these statements, read a chunk of ids at a time (:func:`chunks`)."""
    rows = [
        row
        for chunk in chunks(list(statement_ids))
        for row in session.execute(FACTS.where(one_of(session, Statement.id, chunk)))
    ]
    return cast(list[StatementFacts], rows)


@dataclass(frozen=True)
class Outcome:
    score_scaled: float | None
    success: bool | None
    completion: bool | None


def outcome_of(statement: Mapping[str, Any]) -> Outcome | None:
    """What the statement says about the learner's performance, or None if nothing.

    ``score.scaled`` when given, else ``(raw - min) / (max - min)`` (``min`` 0 when
    absent) when ``raw`` and ``max`` are (xAPI 1.0.3 §2.4.5.1). ``success`` absent
    is taken from the verb, then from the cmi5 mastery score (cmi5 §9.6.2.2).
    """
    result = statement.get("result")
    result = result if isinstance(result, Mapping) else {}
    verb = statement.get("verb")
    verb_id = verb.get("id") if isinstance(verb, Mapping) else None

    scaled = _scaled_score(result.get("score"))
    success = result.get("success") if isinstance(result.get("success"), bool) else None
    completion = result.get("completion") if isinstance(result.get("completion"), bool) else None
    if success is None and verb_id in SUCCESS_VERBS:
        success = SUCCESS_VERBS[verb_id]
    if success is None and scaled is not None:
        mastery = _mastery_score(statement)
        if mastery is not None:
            success = scaled >= mastery
    if completion is None and verb_id in COMPLETION_VERBS:
        completion = True
    if scaled is None and success is None and completion is None:
        return None
    return Outcome(scaled, success, completion)


def rederive(
    session: Session,
    statements: Sequence[StatementFacts],
    *,
    base_url: str | None = None,
    reason: str = "derived",
) -> EvidenceChange:
    """Make the evidence of ``statements`` be exactly what they give today.

    ``base_url`` defaults to ``session.info["base_url"]`` (the tool's URL, which
    competency IRIs start with; the application puts it there). ``reason`` goes to
    the audit trail of withdrawn rows ("voided" for the rows of voided statements).
    """
    if not statements:
        return EvidenceChange()
    serialise(session)
    session.flush()
    wanted = _wanted_evidence(session, statements, base_url)
    existing = _existing_evidence(session, [s.id for s in statements])
    added = [row for key, row in wanted.items() if key not in existing]
    withdrawn = [(key, evidence_id) for key, evidence_id in existing.items() if key not in wanted]
    voided = {s.id for s in statements if s.voided}
    return _apply(session, added, withdrawn, reason=reason, voided=voided)


def rederive_in_chunks(
    session: Session, statement_ids: Sequence[str], *, reason: str
) -> EvidenceChange:
    """:func:`rederive` over many statements, a bounded number at a time."""
    change = EvidenceChange()
    for chunk in chunks(list(statement_ids)):
        change |= rederive(session, statement_facts(session, chunk), reason=reason)
    return change


def resolve_pending_for_user(session: Session, user_id: int) -> Touched:
    """Turn the statements that name this user into evidence; call after a user is
    created or updated (every launch may call it: it costs two small queries when the
    user's identity has not changed)."""
    return resolve_pending_for_users(session, [user_id])


def resolve_pending_for_users(session: Session, user_ids: Iterable[int]) -> Touched:
    """:func:`resolve_pending_for_user` for many users at once (roster sync).

    A user's actor keys (account, mbox, mbox_sha1sum of their email) are compared with
    those recorded last time (``xapi_learner_key``). Statements under a new key (stored
    before the user was known) are derived, found through the indexed actor key; when a
    key is gone (a changed email), or none was recorded yet, the user's evidence is
    derived again, which withdraws what came through an address they no longer have.
    Statements stored while the user was known were derived at storage time and are
    not looked at again.
    """
    wanted = learners.keys_of_users(session, user_ids)
    known = learners.known_keys(session, wanted)
    added: list[tuple[int, str]] = []
    removed: list[tuple[int, str]] = []
    for user_id, keys in wanted.items():
        have = known.get(user_id, set())
        added += [(user_id, key) for key in sorted(keys - have)]
        removed += [(user_id, key) for key in sorted(have - keys)]
    if not added and not removed:
        return set()
    serialise(session)  # before writing the keys: the lock comes first, then rows
    learners.remember_keys(session, added, removed)
    new_keys = sorted({key for _, key in added})
    pending: set[str] = set()
    for chunk in chunks(new_keys):
        pending |= set(
            session.scalars(
                select(Statement.id).where(
                    one_of(session, Statement.actor_key, chunk), ~Statement.voided
                )
            )
        )
    # Users seen for the first time may hold evidence from an address they no longer have.
    changed_users = sorted({user_id for user_id, _ in removed} | (set(wanted) - set(known)))
    if changed_users:
        pending |= set(
            session.scalars(
                select(Evidence.statement_id).where(
                    one_of(session, Evidence.learner_id, changed_users)
                )
            )
        )
    return rederive_in_chunks(session, sorted(pending), reason="learner identity changed").touched


def rederive_all(session: Session) -> tuple[int, EvidenceChange]:
    """Recompute all evidence from every stored statement; idempotent.

    For repairs and revisions: a competency added to the référentiel after statements
    tagged it, or users written without :func:`resolve_pending_for_user`. (A first
    launch racing a derivation needs no repair: both take the evidence lock, and the
    second sees what the first committed.) Returns how many statements were looked at
    and what changed.
    """
    learners.remember_all_keys(session)
    statement_ids = set(session.scalars(select(Statement.id).where(~Statement.voided)))
    statement_ids |= set(session.scalars(select(Evidence.statement_id)))
    return len(statement_ids), rederive_in_chunks(
        session, sorted(statement_ids), reason="recomputed"
    )


class Gap(StrEnum):
    """Why a statement gives no evidence (:func:`explain_gaps`), in the order derivation
    checks."""

    VOIDED = "voided"
    VOIDING = "voiding"
    UNREADABLE = "unreadable"
    NOT_AN_AGENT = "actor-not-an-agent"
    NOT_AN_ACTIVITY = "object-not-an-activity"
    NO_RESULT = "no-result"
    UNKNOWN_LEARNER = "unknown-learner"
    OTHER_PLATFORM = "other-platform"
    NO_COMPETENCY = "no-competency"


# Why each statement gave no evidence, and what it is about for that reason (its verb,
# its actor's key or its activity): what an administrator would change.
Gaps = dict[str, tuple[Gap, str]]


@dataclass(frozen=True)
class _Candidate:
    row: StatementFacts
    parsed: Mapping[str, Any]
    outcome: Outcome
    source: str  # the object's activity id


def _candidate(row: StatementFacts) -> _Candidate | tuple[Gap, str]:
    """The statement as a candidate for evidence, or why it cannot be one whoever its
    actor is and whatever the mapping rules say."""
    if row.voided:
        return Gap.VOIDED, row.id
    if row.verb_id == VOIDED:
        return Gap.VOIDING, row.id
    try:
        parsed = decode(row.raw)
    except ValueError:
        log.warning("statement %s has unreadable stored JSON; no evidence", row.id)
        return Gap.UNREADABLE, row.id
    actor = parsed.get("actor")
    if not isinstance(actor, Mapping) or not actors.is_agent(actor):
        return Gap.NOT_AN_AGENT, row.actor_key
    source = mapping.object_activity_id(parsed)
    if source is None:
        obj = parsed.get("object")
        kind = obj.get("objectType", "Activity") if isinstance(obj, Mapping) else "?"
        return Gap.NOT_AN_ACTIVITY, str(kind)
    outcome = outcome_of(parsed)
    if outcome is None:
        return Gap.NO_RESULT, row.verb_id
    return _Candidate(row, parsed, outcome, source)


def _wanted_evidence(
    session: Session,
    statements: Sequence[StatementFacts],
    base_url: str | None,
    gaps: Gaps | None = None,
) -> dict[_EvidenceKey, dict[str, Any]]:
    """The evidence rows these statements give; ``gaps``, when given, receives why each
    statement that gives none does not. ``base_url`` None: the session's (the tool's
    URL, which competency IRIs start with)."""
    base_url = base_url or session.info.get("base_url")
    gaps = {} if gaps is None else gaps
    candidates: list[_Candidate] = []
    for row in statements:
        found = _candidate(row)
        if isinstance(found, _Candidate):
            candidates.append(found)
        else:
            gaps[row.id] = found
    if not candidates:
        return {}

    agents = {c.row.actor_key: c.parsed["actor"] for c in candidates}
    learners_by_key = learners.learners_by_actor(session, agents)
    for c in candidates:
        if c.row.actor_key not in learners_by_key:
            gaps[c.row.id] = (Gap.UNKNOWN_LEARNER, c.row.actor_key)
    candidates = [c for c in candidates if c.row.actor_key in learners_by_key]
    competencies = mapping.competencies_for_statements(
        session, [c.parsed for c in candidates], base_url
    )

    wanted: dict[_EvidenceKey, dict[str, Any]] = {}
    for c, competency_ids in zip(candidates, competencies, strict=True):
        row, outcome = c.row, c.outcome
        on_platform = [
            learner
            for learner in learners_by_key[row.actor_key]
            if learner.on_platform(row.platform_issuer)
        ]
        if not on_platform:
            gaps[row.id] = (Gap.OTHER_PLATFORM, row.actor_key)
        elif not competency_ids:
            gaps[row.id] = (Gap.NO_COMPETENCY, c.source)
        for learner in on_platform:
            for competency_id in competency_ids:
                wanted[(row.id, learner.id, competency_id)] = {
                    "statement_id": row.id,
                    "learner_id": learner.id,
                    "competency_id": competency_id,
                    "verb_id": row.verb_id,
                    "source_activity": c.source,
                    "score_scaled": outcome.score_scaled,
                    "success": outcome.success,
                    "completion": outcome.completion,
                    "occurred_at": row.timestamp,
                }
    return wanted


def explain_gaps(
    session: Session, statements: Sequence[StatementFacts], base_url: str | None = None
) -> Gaps:
    """Why each of these statements gives no evidence (those that give some are left
    out), by the same reading as derivation, so the two cannot disagree."""
    gaps: Gaps = {}
    _wanted_evidence(session, statements, base_url, gaps)
    return gaps


def _existing_evidence(session: Session, statement_ids: list[str]) -> dict[_EvidenceKey, int]:
    existing: dict[_EvidenceKey, int] = {}
    for chunk in chunks(statement_ids):
        rows = session.execute(
            select(
                Evidence.statement_id, Evidence.learner_id, Evidence.competency_id, Evidence.id
            ).where(one_of(session, Evidence.statement_id, chunk))
        )
        for statement_id, learner_id, competency_id, evidence_id in rows:
            existing[(statement_id, learner_id, competency_id)] = evidence_id
    return existing


def _apply(
    session: Session,
    added: list[dict[str, Any]],
    withdrawn: list[tuple[_EvidenceKey, int]],
    *,
    reason: str,
    voided: set[str],
) -> EvidenceChange:
    if not added and not withdrawn:
        return EvidenceChange()
    # Core insert on the table, with NULLs rendered (the ORM bulk form splits rows by
    # which values are None, one INSERT per run of them).
    insert_rows(session, _EVIDENCE_TABLE, added)
    for chunk in chunks([evidence_id for _, evidence_id in withdrawn]):
        session.execute(delete(Evidence).where(one_of(session, Evidence.id, chunk)))
    events = [
        {
            "kind": "evidence.added",
            "learner_id": row["learner_id"],
            "competency_id": row["competency_id"],
            "details": {"statement_id": row["statement_id"], "verb": row["verb_id"]},
            "summary": f"statement {row['statement_id']}",
        }
        for row in added
    ]
    for (statement_id, learner_id, competency_id), _ in withdrawn:
        why = "voided" if statement_id in voided else reason
        events.append(
            {
                "kind": "evidence.withdrawn",
                "learner_id": learner_id,
                "competency_id": competency_id,
                "details": {"statement_id": statement_id, "reason": why},
                "summary": f"statement {statement_id} ({why})",
            }
        )
    insert_rows(session, _AUDIT_TABLE, events)
    touched = _touched(added, withdrawn)
    evidence_changed.send(
        session,
        touched=touched,
        added=added,
        withdrawn={(learner_id, competency_id) for (_, learner_id, competency_id), _ in withdrawn},
    )
    return EvidenceChange(len(added), len(withdrawn), touched)


def _touched(added: list[dict[str, Any]], withdrawn: list[tuple[_EvidenceKey, int]]) -> Touched:
    touched = {(row["learner_id"], row["competency_id"]) for row in added}
    touched |= {(learner_id, competency_id) for (_, learner_id, competency_id), _ in withdrawn}
    return touched


def decode(text: str) -> Any:
    """JSON text to Python, with orjson (several times faster), or the json module for
    what orjson refuses (lone surrogates in strings). orjson reads integers beyond 64
    bits as floats: harmless here, where numbers are scores."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _scaled_score(score: Any) -> float | None:
    if not isinstance(score, Mapping):
        return None
    scaled = score.get("scaled")
    if _is_number(scaled):
        return float(scaled)
    raw, low, high = score.get("raw"), score.get("min", 0), score.get("max")
    if _is_number(raw) and _is_number(low) and _is_number(high) and high > low:
        return max(-1.0, min(1.0, (raw - low) / (high - low)))
    return None


def _mastery_score(statement: Mapping[str, Any]) -> float | None:
    context = statement.get("context")
    extensions = context.get("extensions") if isinstance(context, Mapping) else None
    value = extensions.get(MASTERY_SCORE) if isinstance(extensions, Mapping) else None
    return float(value) if _is_number(value) else None


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
