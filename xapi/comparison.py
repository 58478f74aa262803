"""Statement equivalence for the "same id, same statement" rule (xAPI 1.0.3 Data §2.3.1
"Statement Comparison Requirements").

Differences the LRS or a signature could have introduced are not differences:
properties the LRS sets (id, stored, authority, version), the serialisation of a
timestamp (its timezone), the case of case-insensitive values (UUIDs, language tags,
SHA1 sums) and the order of a group's members.
"""

from __future__ import annotations

import json
from typing import Any

from xapi.validation import parse_timestamp

LRS_SET = {"id", "stored", "authority", "version"}
LANGUAGE_MAPS = {"display", "name", "description"}


def _timestamp(value: Any) -> Any:
    try:
        moment = parse_timestamp(value, "timestamp")
    except Exception:
        return value
    return moment.isoformat(timespec="milliseconds")


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "extensions":
            out[key] = item  # extension values are opaque JSON
        elif key == "member" and isinstance(item, list):
            members = [_normal(m) for m in item]
            out[key] = sorted(members, key=lambda m: json.dumps(m, sort_keys=True))
        elif key in LANGUAGE_MAPS and isinstance(item, dict):
            out[key] = {str(tag).lower(): text for tag, text in item.items()}
        elif key == "timestamp":
            out[key] = _timestamp(item)
        elif isinstance(item, str) and _case_insensitive(key, value):
            out[key] = item.lower()
        else:
            out[key] = _normal(item)
    return out


def _case_insensitive(key: str, parent: dict[str, Any]) -> bool:
    if key in ("registration", "mbox_sha1sum", "sha2"):
        return True
    return key == "id" and parent.get("objectType") == "StatementRef"


def comparable(statement: dict[str, Any]) -> Any:
    """The statement reduced to what two equivalent statements share."""
    return _normal({k: v for k, v in statement.items() if k not in LRS_SET})


def same_statement(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(comparable(a) == comparable(b))
