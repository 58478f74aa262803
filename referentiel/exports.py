"""The publication formats of a stored framework, by name (CLI and HTTP share them)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from referentiel.case import cf_package
from referentiel.exceptions import InvalidReferentiel
from referentiel.models import Framework
from referentiel.moodle_csv import write_csv
from referentiel.stored import current_document

FORMATS = ("moodle-csv", "case-json")


@dataclass(frozen=True)
class Export:
    text: str
    media_type: str
    filename: str


def export_framework(
    framework: Framework, fmt: str, *, base_url: str, creator: str = "lti-tool"
) -> Export:
    doc = current_document(framework)
    if fmt == "moodle-csv":
        return Export(write_csv(doc), "text/csv; charset=utf-8", f"{framework.key}.csv")
    if fmt == "case-json":
        package = cf_package(doc, base_url, framework.updated_at, creator)
        text = json.dumps(package, ensure_ascii=False, indent=2) + "\n"
        return Export(text, "application/json", f"{framework.key}.case.json")
    raise InvalidReferentiel(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
