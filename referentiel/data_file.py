"""Our own data format: a JSON file validated by ``data/referentiel.schema.json``.

Built-in référentiels ship inside the package (``referentiel/data/<name>.json``) and
are found with :mod:`importlib.resources`, so they load the same from a checkout and
from an installed wheel.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from referentiel.document import (
    ActivityDocument,
    BlocDocument,
    CompetencyDocument,
    CriterionDocument,
    FrameworkDocument,
    consistency_errors,
    unstorable_character,
)
from referentiel.exceptions import InvalidReferentiel, ReferentielNotFound

SCHEMA_RESOURCE = "referentiel.schema.json"


def data_resource(name: str) -> Any:
    """A file of ``referentiel/data`` as an importlib Traversable."""
    return resources.files("referentiel").joinpath("data", name)


def builtin_names() -> list[str]:
    """The référentiels shipped with the package (their framework keys)."""
    folder = resources.files("referentiel").joinpath("data")
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json") and entry.name != SCHEMA_RESOURCE
    )


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(data_resource(SCHEMA_RESOURCE).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def read_builtin(name: str) -> FrameworkDocument:
    if name not in builtin_names():
        known = ", ".join(builtin_names())
        raise ReferentielNotFound(f"no built-in référentiel named {name!r} (built-in: {known})")
    text = data_resource(f"{name}.json").read_text(encoding="utf-8")
    return parse_text(text, source=f"{name}.json")


def read_file(path: Path) -> FrameworkDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReferentielNotFound(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InvalidReferentiel(f"{path}: not UTF-8 text (byte {error.start})") from None
    return parse_text(text, source=str(path))


def parse_text(text: str, *, source: str) -> FrameworkDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidReferentiel(
            f"{source}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except ValueError:  # json.loads' other one: an integer of more than 4300 digits
        raise InvalidReferentiel(f"{source}: a number in the JSON is too long to read") from None
    except RecursionError:
        raise InvalidReferentiel(f"{source}: JSON nested too deeply to be a référentiel") from None
    return parse_data(data, source=source)


def parse_data(data: Any, *, source: str) -> FrameworkDocument:
    """Validate against the schema, then the consistency rules; one clear error or a document."""
    problem = first_problem(data)
    if problem is not None:
        raise InvalidReferentiel(f"{source}: {problem}")
    return document_from_data(data)


def first_problem(data: Any) -> str | None:
    """The first thing wrong with ``data`` as "<JSON path>: <reason>", or None."""
    unstorable = _unstorable_text(data)
    if unstorable is not None:
        return unstorable
    try:
        error = _first_schema_error(data)
    except RecursionError:  # the schema's messages repr() the value, however deep
        return "$: nested too deeply to be a référentiel"
    if error is not None:
        return f"{error.json_path}: {_short(error)}"
    problems = consistency_errors(document_from_data(data))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return f"{problems[0]}{more}"
    return None


def _unstorable_text(data: Any) -> str | None:
    """The first string of ``data`` (keys included) that no database can store, as
    "<JSON path>: <reason>". Every import format is checked here, whatever it allows."""
    pending: list[tuple[str, Any]] = [("$", data)]
    while pending:  # a loop, not recursion: the data may be nested as deep as JSON allows
        path, value = pending.pop()
        if isinstance(value, str):
            reason = unstorable_character(value)
            if reason is not None:
                return f"{path}: {reason}"
        elif isinstance(value, dict):
            for key in value:
                reason = unstorable_character(key)
                if reason is not None:
                    return f"{path}: a key {reason}"
            pending.extend((f"{path}.{key}", item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def _first_schema_error(data: Any) -> ValidationError | None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    # The deepest error of the first failing path is the one a person can act on.
    first = errors[0]
    while first.context:
        first = sorted(first.context, key=lambda e: -len(e.absolute_path))[0]
    return first


def _short(error: ValidationError) -> str:
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def document_from_data(data: dict[str, Any]) -> FrameworkDocument:
    """Build the document from data already validated by the schema."""
    return FrameworkDocument(
        key=data["id"],
        version=data["version"],
        title=data["title"],
        language=data.get("language", "fr"),
        abbreviation=data.get("abbreviation"),
        description=data.get("description", ""),
        source=data.get("source", ""),
        jury=data.get("jury", ""),
        rncp_code=data.get("rncp_code"),
        blocs=tuple(_bloc(b) for b in data["blocs"]),
    )


def _bloc(data: dict[str, Any]) -> BlocDocument:
    evaluation = data.get("evaluation", {})
    return BlocDocument(
        key=data["key"],
        number=data["number"],
        title=data["title"],
        description=data.get("description", ""),
        optional=data.get("optional", False),
        option_group=data.get("option_group"),
        competency_list_raw=data.get("competency_list_raw", ""),
        activities=tuple(
            ActivityDocument(key=a["key"], number=a["number"], title=a["title"])
            for a in data.get("activities", [])
        ),
        competencies=tuple(
            CompetencyDocument(code=c["code"], text=c["text"], activity=c.get("activity"))
            for c in data["competencies"]
        ),
        modalities=tuple(evaluation.get("modalities", [])),
        criteria=tuple(
            CriterionDocument(
                key=c["key"], text=c["text"], competencies=tuple(c.get("competencies", []))
            )
            for c in evaluation.get("criteria", [])
        ),
    )
