"""The ``format`` parameter of statement queries (xAPI 1.0.3 Communication §2.1.3):
``exact`` as stored, ``ids`` with agents, groups, activities and verbs cut down to what
identifies them, ``canonical`` with each language map reduced to the language the
client prefers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
LANGUAGE_MAPS = ("display", "name", "description")


def _agent_ids(agent: Any) -> Any:
    if not isinstance(agent, dict):
        return agent
    out: dict[str, Any] = {k: agent[k] for k in IFIS if k in agent}
    if "objectType" in agent:
        out["objectType"] = agent["objectType"]
    if agent.get("objectType") == "Group" and not out.keys() & set(IFIS):
        out["member"] = [_agent_ids(m) for m in agent.get("member", [])]
    return out


def _statement_ids(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    out["actor"] = _agent_ids(statement["actor"])
    out["verb"] = {"id": statement["verb"]["id"]}
    obj = statement["object"]
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        out["object"] = {"id": obj["id"]}
    elif kind in ("Agent", "Group"):
        out["object"] = _agent_ids(obj)
    elif kind == "SubStatement":
        out["object"] = _statement_ids(obj)
    if "authority" in statement:
        out["authority"] = _agent_ids(statement["authority"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _agent_ids(context[key])
        if isinstance(context.get("contextActivities"), dict):
            context["contextActivities"] = {
                key: [{"id": a["id"]} for a in (value if isinstance(value, list) else [value])]
                for key, value in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def _pick_language(value: dict[str, str], languages: Sequence[str]) -> dict[str, str]:
    if not value:
        return value
    lowered = {tag.lower(): tag for tag in value}
    for wanted in languages:
        wanted = wanted.lower()
        if wanted in lowered:
            tag = lowered[wanted]
            return {tag: value[tag]}
        for low, tag in lowered.items():
            if low.split("-")[0] == wanted.split("-")[0]:
                return {tag: value[tag]}
    tag = next(iter(value))
    return {tag: value[tag]}


def _canonical(value: Any, languages: Sequence[str]) -> Any:
    if isinstance(value, list):
        return [_canonical(item, languages) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "extensions":
            out[key] = item
        elif key in LANGUAGE_MAPS and isinstance(item, dict):
            out[key] = _pick_language(item, languages)
        else:
            out[key] = _canonical(item, languages)
    return out


def formatted(statement: dict[str, Any], fmt: str, languages: Sequence[str] = ()) -> dict[str, Any]:
    if fmt == "ids":
        return _statement_ids(statement)
    if fmt == "canonical":
        result: dict[str, Any] = _canonical(statement, languages)
        return result
    return statement
