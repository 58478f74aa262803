"""Where a référentiel comes from: a built-in name, our JSON file or a Moodle CSV."""

from __future__ import annotations

from pathlib import Path

from referentiel import data_file
from referentiel.document import FrameworkDocument
from referentiel.exceptions import InvalidReferentiel, ReferentielNotFound


def read_source(name_or_file: str) -> FrameworkDocument:
    """Read a built-in référentiel by name, or a file by its suffix (.json, .csv)."""
    path = Path(name_or_file)
    if not path.exists() and name_or_file in data_file.builtin_names():
        return data_file.read_builtin(name_or_file)
    if not path.is_file():
        known = ", ".join(data_file.builtin_names())
        raise ReferentielNotFound(
            f"{name_or_file}: neither a file nor a built-in référentiel (built-in: {known})"
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        return data_file.read_file(path)
    if suffix == ".csv":
        from referentiel.moodle_csv import read_csv_file

        return read_csv_file(path)
    if suffix == ".xml":
        raise InvalidReferentiel(f"{path}: RNCP XML is read by 'referentiel import-rncp'")
    raise InvalidReferentiel(f"{path}: unknown format (expected .json or a Moodle .csv)")
