"""Adding, listing and removing mapping rules, with their effect on stored statements.

Adding a rule applies it to the statements already stored (backfill); removing one
withdraws the evidence that only it produced (evidence another rule or a tagged IRI
also gives stays). Both go through :func:`xapi.evidence.rederive`, so the result is
the same as if the rules had always been what they are now.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from referentiel import audit
from referentiel.lookup import competency_by_iri, competency_iri
from referentiel.models import Competency
from xapi.evidence import EvidenceChange, rederive_in_chunks
from xapi.exceptions import MappingRuleError, MappingRuleNotFound
from xapi.identifiers import digest
from xapi.models import MappingRule, Statement, StatementActivity, of_statement

# Where a rule looks (xapi.mapping.rule_candidates), as the activity index names it.
RULE_RELATIONS = ("object", "parent")


@dataclass(frozen=True)
class RuleView:
    rule: MappingRule
    competency_iri: str


def add_rules(
    session: Session,
    activity_iri: str,
    competency_iris: list[str],
    *,
    prefix: bool,
    base_url: str,
    actor: str = "system",
) -> tuple[list[MappingRule], EvidenceChange]:
    """Map an activity (or every activity under a prefix) to competencies, then
    derive the evidence this gives from the statements already stored.

    A rule that already exists is reused, so adding twice changes nothing.
    """
    activity_iri = activity_iri.strip()
    _check_activity_iri(activity_iri)
    if not competency_iris:
        raise MappingRuleError("name at least one competency IRI")
    competencies: list[Competency] = []
    for iri in competency_iris:
        competency = competency_by_iri(session, iri.strip(), base_url)
        if competency is None:
            raise MappingRuleError(f"no competency has the IRI {iri.strip()}")
        if competency.retired_at is not None:
            raise MappingRuleError(f"the competency {iri.strip()} is retired from its référentiel")
        competencies.append(competency)

    rules: list[MappingRule] = []
    for competency in competencies:
        rule = session.scalars(
            select(MappingRule).where(
                MappingRule.activity_iri == activity_iri,
                MappingRule.is_prefix == prefix,
                MappingRule.competency_id == competency.id,
            )
        ).first()
        if rule is None:
            rule = MappingRule(
                activity_iri=activity_iri, is_prefix=prefix, competency_id=competency.id
            )
            session.add(rule)
            session.flush()
            audit.record(
                session,
                "mapping.added",
                actor=actor,
                competency_id=competency.id,
                summary=f"{activity_iri}{'*' if prefix else ''}",
                rule_id=rule.id,
                activity=activity_iri,
                prefix=prefix,
            )
        rules.append(rule)
    change = rederive_in_chunks(
        session, _matching_statement_ids(session, activity_iri, prefix), reason="mapping added"
    )
    return rules, change


def remove_rule(
    session: Session, rule_id: int, *, base_url: str, actor: str = "system"
) -> tuple[RuleView, EvidenceChange]:
    """Remove one rule and withdraw the evidence no other rule or tag still gives."""
    rule = session.get(MappingRule, rule_id)
    if rule is None:
        raise MappingRuleNotFound(f"no mapping rule has the id {rule_id}")
    view = RuleView(rule, competency_iri(base_url, _competency(session, rule)))
    audit.record(
        session,
        "mapping.removed",
        actor=actor,
        competency_id=rule.competency_id,
        summary=f"{rule.activity_iri}{'*' if rule.is_prefix else ''}",
        rule_id=rule.id,
        activity=rule.activity_iri,
        prefix=rule.is_prefix,
    )
    session.delete(rule)
    session.flush()
    change = rederive_in_chunks(
        session,
        _matching_statement_ids(session, rule.activity_iri, rule.is_prefix),
        reason="mapping removed",
    )
    return view, change


def list_rules(session: Session, *, base_url: str) -> list[RuleView]:
    rules = session.scalars(select(MappingRule).order_by(MappingRule.id))
    return [RuleView(rule, competency_iri(base_url, _competency(session, rule))) for rule in rules]


def _matching_statement_ids(session: Session, activity_iri: str, prefix: bool) -> list[str]:
    """Non-voided statements whose object or a parent the rule names, found through
    the statements' activity index (an exact id by its indexed hash; a prefix by a
    scan, acceptable because rules change rarely)."""
    if prefix:
        names = StatementActivity.activity_id.startswith(activity_iri, autoescape=True)
    else:
        names = StatementActivity.activity_key == digest(activity_iri)
    query = (
        select(Statement.id)
        .join(StatementActivity, of_statement(StatementActivity))
        .where(names, StatementActivity.relation.in_(RULE_RELATIONS), ~Statement.voided)
    )
    return sorted(set(session.scalars(query)))


def _competency(session: Session, rule: MappingRule) -> Competency:
    competency = session.get(Competency, rule.competency_id)
    assert competency is not None  # a foreign key with ON DELETE CASCADE
    return competency


def _check_activity_iri(iri: str) -> None:
    """An activity id is an IRI (xAPI 1.0.3 §2.4.4.1): a scheme, then no blanks."""
    scheme, colon, rest = iri.partition(":")
    if not colon or not scheme or not scheme[0].isalpha() or not rest:
        raise MappingRuleError(f"the activity id must be an absolute IRI, not {iri!r}")
    if any(char.isspace() for char in iri):
        raise MappingRuleError(f"the activity id must not contain blanks: {iri!r}")
