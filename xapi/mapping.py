"""Which competencies a statement is evidence for.

Two ways, both documented in the tool's xAPI profile (``{BASE}/xapi/profile``):

(a) Tagged: the statement's object, or any of its context activities (parent,
    grouping, category, other; xAPI 1.0.3 §2.4.6.2), is a competency's IRI
    ``{BASE}/referentiels/{framework}/{bloc}/{code}``. Content that knows the
    référentiel tags it in ``contextActivities.parent`` with the activity type
    ``http://adlnet.gov/expapi/activities/objective``, as cmi5 advises.
(b) Mapped: a :class:`~xapi.models.MappingRule` names the statement's object id or
    one of its ``contextActivities.parent`` ids, exactly or as a prefix (e.g. a Moodle
    quiz's ``.../mod/quiz/view.php?id=12``). Moodle's logstore_xapi makes the quiz the
    object of 'completed' (current versions, the attempt in ``other``) or its parent
    (older ones, the attempt as object): both count. Grouping, category and other are
    left out: they hold the site and the course of every statement, and a course
    mapped that way would make every scored question of the course count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from referentiel.lookup import PREFIX, competency_ids_by_iri
from xapi.models import MappingRule

CONTEXT_ACTIVITY_KINDS = ("parent", "grouping", "category", "other")


def object_activity_id(statement: Mapping[str, Any]) -> str | None:
    """The object's id when the object is an Activity (xAPI 1.0.3 §2.4.4.1)."""
    obj = statement.get("object")
    if not isinstance(obj, Mapping) or obj.get("objectType", "Activity") != "Activity":
        return None
    activity_id = obj.get("id")
    return activity_id if isinstance(activity_id, str) else None


def rule_candidates(statement: Mapping[str, Any]) -> list[str]:
    """The activity ids mapping rules are matched against: object, then parents."""
    object_id = object_activity_id(statement)
    return ([object_id] if object_id else []) + context_activity_ids(statement, ("parent",))


def context_activity_ids(
    statement: Mapping[str, Any], kinds: Sequence[str] = CONTEXT_ACTIVITY_KINDS
) -> list[str]:
    context = statement.get("context")
    if not isinstance(context, Mapping):
        return []
    activities = context.get("contextActivities")
    if not isinstance(activities, Mapping):
        return []
    ids: list[str] = []
    for kind in kinds:
        value = activities.get(kind)
        # A single Activity object is allowed and means a list of one (§2.4.6.2).
        for activity in [value] if isinstance(value, Mapping) else value or []:
            if isinstance(activity, Mapping) and isinstance(activity.get("id"), str):
                ids.append(activity["id"])
    return ids


@dataclass
class RuleSet:
    """Every mapping rule, arranged for matching many object ids quickly."""

    exact: dict[str, set[int]] = field(default_factory=dict)
    prefixes: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session) -> RuleSet:
        rules = cls()
        rows = session.execute(
            select(MappingRule.activity_iri, MappingRule.is_prefix, MappingRule.competency_id)
        )
        for activity_iri, is_prefix, competency_id in rows:
            if is_prefix:
                rules.prefixes.append((activity_iri, competency_id))
            else:
                rules.exact.setdefault(activity_iri, set()).add(competency_id)
        return rules

    def competencies_for(self, activity_ids: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for activity_id in activity_ids:
            found |= self.exact.get(activity_id, set())
            for prefix, competency_id in self.prefixes:
                if activity_id.startswith(prefix):
                    found.add(competency_id)
        return found


def competencies_for_statements(
    session: Session,
    statements: Sequence[Mapping[str, Any]],
    base_url: str | None,
) -> list[set[int]]:
    """For each statement (parsed JSON), the ids of the competencies it is evidence for.

    Two queries for the whole list: the tagged IRIs and the mapping rules.
    ``base_url`` None (no tool URL known) leaves out tagged IRIs.
    """
    rules = RuleSet.load(session)
    # Only an IRI under the référentiel's prefix can name a competency
    # (referentiel.lookup.iri_parts): the others (a Moodle statement's site and course)
    # are left out here rather than looked up.
    prefix = f"{base_url.rstrip('/')}{PREFIX}/" if base_url else None
    mapped: dict[str, set[int]] = {}  # per activity id: a batch repeats a few quizzes
    tagged_ids: list[list[str]] = []
    by_rules: list[set[int]] = []
    for statement in statements:
        rule_ids = rule_candidates(statement)
        others = context_activity_ids(statement, CONTEXT_ACTIVITY_KINDS[1:])
        found: set[int] = set()
        for activity_id in rule_ids:
            if activity_id not in mapped:
                mapped[activity_id] = rules.competencies_for([activity_id])
            found |= mapped[activity_id]
        by_rules.append(found)
        tagged_ids.append(
            [iri for iri in rule_ids + others if iri.startswith(prefix)] if prefix else []
        )
    by_iri = competency_ids_by_iri(session, _flatten(tagged_ids), base_url) if base_url else {}
    return [
        {by_iri[iri] for iri in candidates if iri in by_iri} | competency_ids
        for candidates, competency_ids in zip(tagged_ids, by_rules, strict=True)
    ]


def _flatten(lists: Iterable[list[str]]) -> set[str]:
    return {item for values in lists for item in values}
