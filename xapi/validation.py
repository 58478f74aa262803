"""Explicit checks of a statement against the MUSTs of xAPI 1.0.3 (Data §2 and §4).

Each failure raises :class:`InvalidStatement` naming the path of the faulty property
(``statement.context.registration``) and what is wrong with it, so that a 400 tells
the activity provider what to fix. Unknown properties, wrong types, ``null`` outside
extensions and key case mismatches are refused (Data §2.2: an LRS rejects a statement
with any property it does not recognise as defined by the spec).

Version 2.0.0 statements are checked by the same rules, with ``version`` allowed to
start with ``2.0`` and the ``contextAgents``/``contextGroups`` properties of 2.0.0.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from xapi.exceptions import InvalidStatement
from xapi.json_text import MAX_EXTENSION_DEPTH, deeper_than

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

# Patterns end with \Z, not $: in Python "$" also matches before a final newline, which
# would let "…\n" through as an id, a hash or an IRI.
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
# RFC 3987 requires a scheme (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]*\Z")
MAILTO_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+\Z")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}\Z")
SHA2_RE = re.compile(r"^([0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})\Z")
# RFC 5646 §2.1 (langtag, privateuse and the grandfathered irregular tags).
LANGTAG_RE = re.compile(
    r"""^(
      (?P<langtag>
        ([A-Za-z]{2,3}(-[A-Za-z]{3}(-[A-Za-z]{3}){0,2})?|[A-Za-z]{4}|[A-Za-z]{5,8})
        (-[A-Za-z]{4})?
        (-([A-Za-z]{2}|[0-9]{3}))?
        (-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*
        (-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*
        (-[Xx](-[A-Za-z0-9]{1,8})+)?
      )
      |[Xx](-[A-Za-z0-9]{1,8})+
      |[Ii]-(ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)
      |[Ee][Nn]-[Gg][Bb]-[Oo][Ee][Dd]|[Ss][Gg][Nn]-(BE-FR|BE-NL|CH-DE)
    )\Z""",
    re.VERBOSE,
)
# ISO 8601 date-time as xAPI uses it (Data §4.5); the offset is checked apart.
TIMESTAMP_RE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(:(?P<s>\d{2})(?P<f>[.,]\d+)?)?"
    r"(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(:?(?P<om>\d{2}))?)?\Z"
)
# ISO 8601:2004 §4.4.3.2 durations (Data §4.6); the week form PnW stands alone.
DURATION_RE = re.compile(
    r"^P(?:\d+(?:\.\d+)?W"
    r"|(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?)\Z"
)
INTERACTION_TYPES = {
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
}
# Which interaction component lists each interaction type may carry (Data §2.4.4.1.1).
COMPONENTS_BY_TYPE = {
    "choice": {"choices"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "matching": {"source", "target"},
    "performance": {"steps"},
}
COMPONENT_LISTS = {"choices", "scale", "source", "target", "steps"}


def _fail(path: str, message: str) -> InvalidStatement:
    return InvalidStatement(f"{path}: {message}")


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"must be a JSON object, got {_kind(value)}")
    for key, item in value.items():
        if item is None:
            raise _fail(f"{path}.{key}", "must not be null (only extension values may be)")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN or an infinity, which JSON cannot hold"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _allowed(obj: Mapping[str, Any], path: str, allowed: set[str]) -> None:
    for key in obj:
        if key not in allowed:
            near = [a for a in allowed if a.lower() == key.lower()]
            hint = f" (the property is spelled {near[0]!r})" if near else ""
            raise _fail(f"{path}.{key}", f"is not a property defined by xAPI here{hint}")


def _required(obj: Mapping[str, Any], path: str, *keys: str) -> None:
    for key in keys:
        if key not in obj:
            raise _fail(f"{path}.{key}", "is required")


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, got {_kind(value)}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, got {_kind(value)}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, f"must be a number, got {_kind(value)}")
    return float(value)


def iri(value: Any, path: str) -> str:
    text = _string(value, path)
    if not IRI_RE.match(text):
        raise _fail(path, f"must be an absolute IRI with a scheme, got {text!r}")
    return text


def uuid(value: Any, path: str) -> str:
    text = _string(value, path)
    if not UUID_RE.match(text):
        raise _fail(path, f"must be a UUID in its standard string form, got {text!r}")
    return text


def language_tag(value: str, path: str) -> None:
    if not LANGTAG_RE.match(value):
        raise _fail(path, f"{value!r} is not an RFC 5646 language tag")


def _language_map(value: Any, path: str) -> None:
    obj = _object(value, path)
    for key, text in obj.items():
        language_tag(key, f"{path}.{key}")
        _string(text, f"{path}.{key}")


def _extensions(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _fail(path, f"must be a JSON object, got {_kind(value)}")
    for key, item in value.items():
        iri(key, f"{path} key {key!r}")
        if isinstance(item, dict | list) and deeper_than(item, MAX_EXTENSION_DEPTH):
            raise _fail(f"{path}.{key}", f"nests more than {MAX_EXTENSION_DEPTH} levels of JSON")


def parse_timestamp(value: Any, path: str) -> datetime:
    """An ISO 8601 timestamp as a UTC datetime; ``-00:00`` (unknown offset, RFC 3339 §4.3)
    is refused as xAPI 1.0.3 Data §4.5 requires."""
    moment = _moment(_string(value, path))
    if isinstance(moment, str):
        raise _fail(path, moment)
    return moment


@functools.lru_cache(maxsize=2048)
def _moment(text: str) -> datetime | str:
    """The UTC datetime ``text`` stands for, or why it stands for none. Cached: a stored
    statement's timestamp is read when it is validated and again when it is stored."""
    match = TIMESTAMP_RE.match(text)
    if not match:
        return f"must be an ISO 8601 date-time, got {text!r}"
    parts = match.groupdict()
    if parts["sign"] == "-" and int(parts["oh"]) == 0 and int(parts["om"] or 0) == 0:
        return "the offset -00:00 is not allowed: give Z or the real offset"
    try:
        fraction = parts["f"] or ""
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        tz: timezone = UTC
        if parts["sign"]:
            offset = timedelta(hours=int(parts["oh"]), minutes=int(parts["om"] or 0))
            tz = timezone(offset if parts["sign"] == "+" else -offset)
        moment = datetime(
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            int(parts["h"]),
            int(parts["mi"]),
            int(parts["s"] or 0),
            micro,
            tzinfo=tz,
        )
        return moment.astimezone(UTC)
    except ValueError as error:
        return f"is not a real date-time ({error})"
    except OverflowError:  # an offset that moves it out of years 1 to 9999
        return "is out of the range of date-times (years 1 to 9999 in UTC)"


class StatementValidator:
    """Checks one statement; ``version`` is the major version the client speaks."""

    def __init__(self, version: str = "1.0.3") -> None:
        self.v2 = version.startswith("2.")

    # Actors ---------------------------------------------------------------------------
    def _ifis(self, obj: Mapping[str, Any], path: str) -> list[str]:
        found = [k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in obj]
        for key in found:
            value = obj[key]
            where = f"{path}.{key}"
            if key == "mbox":
                text = iri(value, where)
                if not MAILTO_RE.match(text):
                    raise _fail(where, f"must be a mailto IRI (mailto:name@host), got {text!r}")
            elif key == "mbox_sha1sum":
                if not SHA1_RE.match(_string(value, where)):
                    raise _fail(where, "must be the hex SHA1 of a mailto IRI")
            elif key == "openid":
                iri(value, where)
            else:
                account = _object(value, where)
                _allowed(account, where, {"homePage", "name"})
                _required(account, where, "homePage", "name")
                iri(account["homePage"], f"{where}.homePage")
                if "\x00" in _string(account["name"], f"{where}.name"):
                    raise _fail(f"{where}.name", "must not contain a NUL character")
        return found

    def agent(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
        if "objectType" in obj and obj["objectType"] != "Agent":
            raise _fail(f"{path}.objectType", "must be 'Agent' for an agent")
        if "name" in obj:
            _string(obj["name"], f"{path}.name")
        found = self._ifis(obj, path)
        if len(found) != 1:
            raise _fail(
                path,
                "an agent must have exactly one identifier (mbox, mbox_sha1sum, openid or "
                f"account), got {len(found)}",
            )

    def group(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(
            obj, path, {"objectType", "name", "member", "mbox", "mbox_sha1sum", "openid", "account"}
        )
        if obj.get("objectType") != "Group":
            raise _fail(f"{path}.objectType", "must be 'Group' for a group")
        if "name" in obj:
            _string(obj["name"], f"{path}.name")
        found = self._ifis(obj, path)
        if len(found) > 1:
            raise _fail(path, "a group has at most one identifier")
        if "member" in obj:
            members = obj["member"]
            if not isinstance(members, list):
                raise _fail(f"{path}.member", "must be an array of agents")
            for index, member in enumerate(members):
                where = f"{path}.member[{index}]"
                if isinstance(member, dict) and member.get("objectType") == "Group":
                    raise _fail(where, "a group's members are agents, not groups")
                self.agent(member, where)
        if not found and not obj.get("member"):
            raise _fail(f"{path}.member", "an anonymous group must list its members")

    def actor(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        kind = obj.get("objectType", "Agent")
        if kind == "Group":
            self.group(obj, path)
        elif kind == "Agent":
            self.agent(obj, path)
        else:
            raise _fail(f"{path}.objectType", f"must be 'Agent' or 'Group', got {kind!r}")

    # Verb, activity ---------------------------------------------------------------------
    def verb(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"id", "display"})
        _required(obj, path, "id")
        iri(obj["id"], f"{path}.id")
        if "display" in obj:
            _language_map(obj["display"], f"{path}.display")

    def activity(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"objectType", "id", "definition"})
        if "objectType" in obj and obj["objectType"] != "Activity":
            raise _fail(f"{path}.objectType", "must be 'Activity'")
        _required(obj, path, "id")
        iri(obj["id"], f"{path}.id")
        if "definition" in obj:
            self.definition(obj["definition"], f"{path}.definition")

    def definition(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(
            obj,
            path,
            {
                "name",
                "description",
                "type",
                "moreInfo",
                "extensions",
                "interactionType",
                "correctResponsesPattern",
            }
            | COMPONENT_LISTS,
        )
        for key in ("name", "description"):
            if key in obj:
                _language_map(obj[key], f"{path}.{key}")
        for key in ("type", "moreInfo"):
            if key in obj:
                iri(obj[key], f"{path}.{key}")
        if "extensions" in obj:
            _extensions(obj["extensions"], f"{path}.extensions")
        interaction = obj.get("interactionType")
        if interaction is not None and (
            not isinstance(interaction, str) or interaction not in INTERACTION_TYPES
        ):
            raise _fail(
                f"{path}.interactionType",
                f"must be one of {', '.join(sorted(INTERACTION_TYPES))}, got {interaction!r}",
            )
        if "correctResponsesPattern" in obj:
            if interaction is None:
                raise _fail(f"{path}.correctResponsesPattern", "needs an interactionType beside it")
            pattern = obj["correctResponsesPattern"]
            if not isinstance(pattern, list):
                raise _fail(f"{path}.correctResponsesPattern", "must be an array of strings")
            for index, item in enumerate(pattern):
                _string(item, f"{path}.correctResponsesPattern[{index}]")
        lists = COMPONENT_LISTS & obj.keys()
        if lists:
            if interaction is None:
                raise _fail(f"{path}.{sorted(lists)[0]}", "needs an interactionType beside it")
            allowed = COMPONENTS_BY_TYPE.get(interaction, set())
            for key in sorted(lists):
                if key not in allowed:
                    raise _fail(
                        f"{path}.{key}",
                        f"is not an interaction component of a {interaction!r} interaction",
                    )
                self._components(obj[key], f"{path}.{key}")

    def _components(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, "must be an array of interaction components")
        seen: set[str] = set()
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            component = _object(item, where)
            _allowed(component, where, {"id", "description"})
            _required(component, where, "id")
            ident = _string(component["id"], f"{where}.id")
            if ident in seen:
                raise _fail(f"{where}.id", f"{ident!r} appears twice in the list")
            seen.add(ident)
            if "description" in component:
                _language_map(component["description"], f"{where}.description")

    # Object -----------------------------------------------------------------------------
    def statement_ref(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"objectType", "id"})
        if obj.get("objectType") != "StatementRef":
            raise _fail(f"{path}.objectType", "must be 'StatementRef'")
        _required(obj, path, "id")
        uuid(obj["id"], f"{path}.id")

    def object(self, value: Any, path: str, *, in_substatement: bool = False) -> str:
        obj = _object(value, path)
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(obj, path)
        elif kind == "Agent":
            self.agent(obj, path)
        elif kind == "Group":
            self.group(obj, path)
        elif kind == "StatementRef":
            self.statement_ref(obj, path)
        elif kind == "SubStatement":
            if in_substatement:
                raise _fail(f"{path}.objectType", "a sub-statement cannot hold a sub-statement")
            self.substatement(obj, path)
        else:
            raise _fail(
                f"{path}.objectType",
                f"must be Activity, Agent, Group, StatementRef or SubStatement, got {kind!r}",
            )
        return str(kind)

    # Result, context --------------------------------------------------------------------
    def result(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(
            obj, path, {"score", "success", "completion", "response", "duration", "extensions"}
        )
        if "score" in obj:
            self.score(obj["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in obj:
                _bool(obj[key], f"{path}.{key}")
        if "response" in obj:
            _string(obj["response"], f"{path}.response")
        if "duration" in obj:
            text = _string(obj["duration"], f"{path}.duration")
            if not DURATION_RE.match(text):
                raise _fail(f"{path}.duration", f"must be an ISO 8601 duration, got {text!r}")
        if "extensions" in obj:
            _extensions(obj["extensions"], f"{path}.extensions")

    def score(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"scaled", "raw", "min", "max"})
        numbers = {key: _number(obj[key], f"{path}.{key}") for key in obj}
        if "scaled" in numbers and not -1 <= numbers["scaled"] <= 1:
            raise _fail(f"{path}.scaled", "must be between -1 and 1")
        low, high, raw = numbers.get("min"), numbers.get("max"), numbers.get("raw")
        if low is not None and high is not None and low >= high:
            raise _fail(f"{path}.min", "must be less than max")
        if raw is not None and low is not None and raw < low:
            raise _fail(f"{path}.raw", "must not be less than min")
        if raw is not None and high is not None and raw > high:
            raise _fail(f"{path}.raw", "must not be greater than max")

    def context(self, value: Any, path: str, object_kind: str) -> None:
        obj = _object(value, path)
        allowed = {
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
        }
        if self.v2:
            allowed |= {"contextAgents", "contextGroups"}
        _allowed(obj, path, allowed)
        if "registration" in obj:
            uuid(obj["registration"], f"{path}.registration")
        if "instructor" in obj:
            self.actor(obj["instructor"], f"{path}.instructor")
        if "team" in obj:
            self.group(obj["team"], f"{path}.team")
        if "contextActivities" in obj:
            self.context_activities(obj["contextActivities"], f"{path}.contextActivities")
        for key in ("revision", "platform"):
            if key in obj:
                _string(obj[key], f"{path}.{key}")
                if object_kind != "Activity":
                    raise _fail(f"{path}.{key}", "is only allowed when the object is an activity")
        if "language" in obj:
            language_tag(_string(obj["language"], f"{path}.language"), f"{path}.language")
        if "statement" in obj:
            self.statement_ref(obj["statement"], f"{path}.statement")
        if "extensions" in obj:
            _extensions(obj["extensions"], f"{path}.extensions")

    def context_activities(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(obj, path, {"parent", "grouping", "category", "other"})
        for key, item in obj.items():
            items = item if isinstance(item, list) else [item]
            for index, activity in enumerate(items):
                where = f"{path}.{key}[{index}]" if isinstance(item, list) else f"{path}.{key}"
                self.activity(activity, where)

    # Attachments ------------------------------------------------------------------------
    def attachments(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise _fail(path, "must be an array of attachments")
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            obj = _object(item, where)
            _allowed(
                obj,
                where,
                {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"},
            )
            _required(obj, where, "usageType", "display", "contentType", "length", "sha2")
            iri(obj["usageType"], f"{where}.usageType")
            _language_map(obj["display"], f"{where}.display")
            if "description" in obj:
                _language_map(obj["description"], f"{where}.description")
            content_type = _string(obj["contentType"], f"{where}.contentType")
            if "/" not in content_type:
                raise _fail(f"{where}.contentType", "must be an Internet media type")
            length = obj["length"]
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise _fail(f"{where}.length", "must be a non-negative integer")
            if not SHA2_RE.match(_string(obj["sha2"], f"{where}.sha2")):
                raise _fail(f"{where}.sha2", "must be the hex SHA-2 hash of the content")
            if "fileUrl" in obj:
                iri(obj["fileUrl"], f"{where}.fileUrl")

    # Statements -------------------------------------------------------------------------
    def substatement(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        _allowed(
            obj,
            path,
            {
                "objectType",
                "actor",
                "verb",
                "object",
                "result",
                "context",
                "timestamp",
                "attachments",
            },
        )
        self._core(obj, path, in_substatement=True)

    def _core(self, obj: Mapping[str, Any], path: str, *, in_substatement: bool) -> None:
        _required(obj, path, "actor", "verb", "object")
        self.actor(obj["actor"], f"{path}.actor")
        self.verb(obj["verb"], f"{path}.verb")
        kind = self.object(obj["object"], f"{path}.object", in_substatement=in_substatement)
        if "result" in obj:
            self.result(obj["result"], f"{path}.result")
        if "context" in obj:
            self.context(obj["context"], f"{path}.context", kind)
        if "timestamp" in obj:
            parse_timestamp(obj["timestamp"], f"{path}.timestamp")
        if "attachments" in obj:
            self.attachments(obj["attachments"], f"{path}.attachments")

    def statement(self, value: Any, path: str = "statement") -> None:
        obj = _object(value, path)
        _allowed(
            obj,
            path,
            {
                "id",
                "actor",
                "verb",
                "object",
                "result",
                "context",
                "timestamp",
                "stored",
                "authority",
                "version",
                "attachments",
            },
        )
        if "id" in obj:
            uuid(obj["id"], f"{path}.id")
        self._core(obj, path, in_substatement=False)
        if "stored" in obj:
            parse_timestamp(obj["stored"], f"{path}.stored")
        if "authority" in obj:
            self.authority(obj["authority"], f"{path}.authority")
        if "version" in obj:
            version = _string(obj["version"], f"{path}.version")
            # A patch number of up to 9 digits: the stored version is at most 20 characters.
            pattern = r"^(1\.0|2\.0)(\.\d{1,9})?\Z" if self.v2 else r"^1\.0(\.\d{1,9})?\Z"
            if not re.match(pattern, version):
                raise _fail(f"{path}.version", f"must be a 1.0.x version, got {version!r}")
        verb = obj["verb"]
        if verb.get("id") == VOIDED_VERB:
            target = obj["object"]
            if target.get("objectType") != "StatementRef":
                raise _fail(f"{path}.object", "a voiding statement's object must be a StatementRef")

    def authority(self, value: Any, path: str) -> None:
        obj = _object(value, path)
        if obj.get("objectType") == "Group":
            # Only an OAuth three-legged authority is a group (Data §2.4.9): anonymous,
            # with exactly two members, the application and the user.
            self.group(obj, path)
            if any(k in obj for k in ("mbox", "mbox_sha1sum", "openid", "account")):
                raise _fail(path, "a group authority must be an anonymous group")
            if len(obj.get("member", [])) != 2:
                raise _fail(f"{path}.member", "a group authority has exactly two members")
        else:
            self.agent(obj, path)


def validate_statement(value: Any, path: str = "statement", version: str = "1.0.3") -> None:
    """Raise :class:`InvalidStatement` when ``value`` is not a valid xAPI statement."""
    StatementValidator(version).statement(value, path)
