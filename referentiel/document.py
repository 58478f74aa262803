"""A référentiel as plain values, independent of where it came from or goes to.

Every format (our JSON data file, Moodle's competency CSV, an RNCP fiche) is read
into a :class:`FrameworkDocument`; loading writes a document to the database and the
exports are written from a document built from the database. Keeping one neutral
shape in the middle is what makes round trips comparable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FORMAT_NAME = "lti-tool-referentiel"
FORMAT_VERSION = 1
MAX_NUMBER = 999  # of a bloc or an activity; referentiel.schema.json says the same
# Python strings can hold a lone surrogate (JSON's "\ud800") and NUL; UTF-8 cannot
# encode the first, and PostgreSQL refuses the second in text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse_number(text: str) -> int | None:
    """``text`` as a bloc or activity number, or None unless it is ASCII digits for
    0 to MAX_NUMBER (``int`` also takes " 12", "1_2" and "١٢", and any size)."""
    digits = text.lstrip("0") or text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_NUMBER)):
        return None
    number = int(digits)
    return number if number <= MAX_NUMBER else None


def unstorable_character(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate in it), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    what = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate"
    return f"contains {what} (U+{ord(found.group()):04X}), which cannot be stored"


@dataclass(frozen=True)
class ActivityDocument:
    key: str
    number: int
    title: str


@dataclass(frozen=True)
class CompetencyDocument:
    code: str
    text: str
    activity: str | None = None


@dataclass(frozen=True)
class CriterionDocument:
    key: str
    text: str
    competencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlocDocument:
    key: str
    number: int
    title: str
    description: str = ""
    optional: bool = False
    option_group: str | None = None
    activities: tuple[ActivityDocument, ...] = ()
    competencies: tuple[CompetencyDocument, ...] = ()
    modalities: tuple[str, ...] = ()
    criteria: tuple[CriterionDocument, ...] = ()
    competency_list_raw: str = ""


@dataclass(frozen=True)
class FrameworkDocument:
    key: str
    version: str
    title: str
    language: str = "fr"
    abbreviation: str | None = None
    description: str = ""
    source: str = ""
    jury: str = ""
    rncp_code: str | None = None
    blocs: tuple[BlocDocument, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        return {
            "blocs": len(self.blocs),
            "activities": sum(len(b.activities) for b in self.blocs),
            "competencies": sum(len(b.competencies) for b in self.blocs),
            "criteria": sum(len(b.criteria) for b in self.blocs),
        }

    def to_data(self) -> dict[str, Any]:
        """The document in our data-file format (``referentiel.schema.json``)."""
        data: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "id": self.key,
            "version": self.version,
            "language": self.language,
            "title": self.title,
            "abbreviation": self.abbreviation,
            "description": self.description,
            "source": self.source,
            "jury": self.jury,
        }
        if self.rncp_code:
            data["rncp_code"] = self.rncp_code
        data["blocs"] = [_bloc_data(b) for b in self.blocs]
        return data

    def content_hash(self) -> str:
        canonical = json.dumps(self.to_data(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _bloc_data(bloc: BlocDocument) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": bloc.key,
        "number": bloc.number,
        "title": bloc.title,
        "description": bloc.description,
        "optional": bloc.optional,
        "option_group": bloc.option_group,
    }
    if bloc.competency_list_raw:
        data["competency_list_raw"] = bloc.competency_list_raw
    data["activities"] = [
        {"key": a.key, "number": a.number, "title": a.title} for a in bloc.activities
    ]
    data["competencies"] = [
        {"code": c.code, "activity": c.activity, "text": c.text} for c in bloc.competencies
    ]
    data["evaluation"] = {
        "modalities": list(bloc.modalities),
        "criteria": [
            {"key": c.key, "text": c.text, "competencies": list(c.competencies)}
            for c in bloc.criteria
        ],
    }
    return data


def _repeats(keys: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(position, key) of every key already seen earlier in ``keys``."""
    seen: set[str] = set()
    for position, key in enumerate(keys):
        if key in seen:
            yield position, key
        seen.add(key)


def consistency_errors(doc: FrameworkDocument) -> list[str]:
    """What a schema cannot say: keys unique where they are looked up, references resolve.

    Each message names the JSON path of the offending value in our data format.
    """
    errors = [
        f"$.blocs[{i}].key: bloc key {key!r} is used twice"
        for i, key in _repeats(bloc.key for bloc in doc.blocs)
    ]
    for i, bloc in enumerate(doc.blocs):
        where = f"$.blocs[{i}]"
        in_bloc = f"in bloc {bloc.key!r}"
        errors += [
            f"{where}.activities[{j}].key: activity {key!r} is used twice {in_bloc}"
            for j, key in _repeats(a.key for a in bloc.activities)
        ]
        errors += [
            f"{where}.competencies[{j}].code: competency code {key!r} is used twice {in_bloc}"
            for j, key in _repeats(c.code for c in bloc.competencies)
        ]
        errors += [
            f"{where}.evaluation.criteria[{j}].key: criterion {key!r} is used twice {in_bloc}"
            for j, key in _repeats(c.key for c in bloc.criteria)
        ]
        activity_keys = {a.key for a in bloc.activities}
        codes = {c.code for c in bloc.competencies}
        errors += [
            f"{where}.competencies[{j}].activity: activity {c.activity!r} "
            f"is not an activity of bloc {bloc.key!r}"
            for j, c in enumerate(bloc.competencies)
            if c.activity is not None and c.activity not in activity_keys
        ]
        errors += [
            f"{where}.evaluation.criteria[{j}].competencies: {code!r} is not a "
            f"competency of bloc {bloc.key!r}"
            for j, criterion in enumerate(bloc.criteria)
            for code in criterion.competencies
            if code not in codes
        ]
    return errors
