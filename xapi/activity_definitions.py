"""The Activities and Agents resources (xAPI 1.0.3 Communication §2.4, §2.5): what the
LRS knows about one activity or one agent, gathered from the statements it stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xapi.identifiers import digest
from xapi.models import Statement, StatementActivity, of_statement

LANGUAGE_MAPS = ("name", "description")
# How many statements naming an activity are read to build its definition, newest.
MAX_SOURCES = 200


def _activities_in(part: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(part, dict):
        return
    obj = part.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            yield obj
        elif kind == "SubStatement":
            yield from _activities_in(obj)
    context = part.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        for value in context["contextActivities"].values():
            for activity in value if isinstance(value, list) else [value]:
                if isinstance(activity, dict):
                    yield activity


def _merge(into: dict[str, Any], definition: dict[str, Any]) -> None:
    for key, value in definition.items():
        if key in (*LANGUAGE_MAPS, "extensions") and isinstance(value, dict):
            into.setdefault(key, {}).update(value)
        else:
            into[key] = value


def activity_object(session: Session, activity_id: str) -> dict[str, Any]:
    """The activity with every definition received for it merged, the newest winning
    for each property and each language (Communication §2.5: all available
    information). An activity the LRS never saw is returned with its id only."""
    rows = session.scalars(
        select(Statement.raw)
        .join(StatementActivity, of_statement(StatementActivity))
        .where(StatementActivity.activity_key == digest(activity_id))
        .order_by(StatementActivity.stored.desc())
        .limit(MAX_SOURCES)
    ).all()
    definition: dict[str, Any] = {}
    for raw in reversed(rows):
        for activity in _activities_in(json.loads(raw)):
            if activity.get("id") == activity_id and isinstance(activity.get("definition"), dict):
                _merge(definition, activity["definition"])
    result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
    if definition:
        result["definition"] = definition
    return result


def person_object(agent: dict[str, Any]) -> dict[str, Any]:
    """The Person object of an agent (Communication §2.4). This LRS links no
    identifiers to one another, so the Person holds the agent's own identifier and
    name, each as an array as the spec requires."""
    person: dict[str, Any] = {"objectType": "Person"}
    if isinstance(agent.get("name"), str):
        person["name"] = [agent["name"]]
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in agent:
            person[key] = [agent[key]]
    return person
