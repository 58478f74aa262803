"""``lti-tool referentiel ...``: one confirmation line, one error line and exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select

from lti_tool.cli import main
from lti_tool.database import db
from referentiel.data_file import read_builtin
from referentiel.models import Competency, Framework


def competency_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Competency)) or 0


def test_load_builtin_confirms_in_one_line_and_is_idempotent(
    app: Flask, runner: FlaskCliRunner
) -> None:
    first = runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    assert first.exit_code == 0, first.output
    assert first.output == (
        "Loaded diplovis-bgdc 1.0.0: 8 blocs, 29 activities, 105 competencies, 86 criteria "
        "(created)\n"
    )
    again = runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    assert again.exit_code == 0 and again.output.endswith("(unchanged)\n")
    assert competency_count(app) == 105


def test_load_a_revised_file_reports_what_changed(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    data = read_builtin("diplovis-bgdc").to_data()
    for bloc in data["blocs"][:3]:
        bloc["competencies"][0]["text"] += " (révisé)"
    path = tmp_path / "revised.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(main, ["referentiel", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("(updated: 3 texts)\n")


def test_list_shows_loaded_frameworks_with_their_iri(runner: FlaskCliRunner) -> None:
    assert "No référentiel loaded" in runner.invoke(main, ["referentiel", "list"]).output
    runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    result = runner.invoke(main, ["referentiel", "list"])
    assert result.exit_code == 0
    assert result.output == (
        "diplovis-bgdc 1.0.0: DIPLOVIS - Bachelor en gestion et développement commercial "
        "(8 blocs, 105 competencies) http://tool.test/referentiels/diplovis-bgdc\n"
    )


def test_bad_file_exits_1_with_one_line_and_loads_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    data = read_builtin("diplovis-bgdc").to_data()
    data["blocs"][5]["competencies"][2]["code"] = "C 3"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["referentiel", "load", str(path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {path}: $.blocs[5].competencies[2].code: 'C 3'")
    assert competency_count(app) == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["blocs"][0].update(number=10**30), "$.blocs[0].number: 10000"),
        (lambda d: d.update(id="test-c\n"), "$.id: 'test-c\\n' does not match"),
        (lambda d: d.update(title="\ud800"), "$.title: contains an unpaired surrogate"),
        (lambda d: d.update(title="DIPLOVIS\x00"), "$.title: contains a NUL character"),
        (lambda d: d.update(language="fr-abcdefgh-ijklmnop"), "$.language: 'fr-abcdefgh"),
    ],
)
def test_what_cannot_be_stored_exits_1_in_one_line_and_loads_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, mutate: Any, message: str
) -> None:
    data = read_builtin("diplovis-bgdc").to_data()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["referentiel", "load", str(path)])
    assert (result.exit_code, result.output.count("\n")) == (1, 1), result.output
    assert result.output.startswith(f"Error: {path}: {message}")
    assert competency_count(app) == 0


def test_json_nested_too_deeply_exits_1_in_one_line(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = runner.invoke(main, ["referentiel", "load", str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: JSON nested too deeply to be a référentiel\n"


def test_unknown_name_and_broken_json_exit_1(runner: FlaskCliRunner, tmp_path: Path) -> None:
    unknown = runner.invoke(main, ["referentiel", "load", "nope"])
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Error: nope: neither a file nor a built-in référentiel (built-in: diplovis-bgdc)\n"
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "lti-tool-referentiel",\n  "id": }', encoding="utf-8")
    result = runner.invoke(main, ["referentiel", "load", str(broken)])
    assert result.exit_code == 1
    assert "not valid JSON at line 2, column 9" in result.output


def test_moodle_csv_export_import_export_is_identical(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    first = tmp_path / "first.csv"
    result = runner.invoke(
        main, ["referentiel", "export", "diplovis-bgdc", "--format", "moodle-csv", "-o", str(first)]
    )
    assert result.exit_code == 0
    assert result.output == f"Exported diplovis-bgdc 1.0.0 as moodle-csv to {first}\n"
    # Loading the CSV back over the same référentiel changes nothing...
    again = runner.invoke(main, ["referentiel", "load", str(first)])
    assert again.exit_code == 0 and again.output.endswith("(unchanged)\n"), again.output
    # ...and in an empty database it rebuilds the same référentiel.
    with app.app_context():
        db.session.execute(delete(Framework))
        db.session.commit()
    created = runner.invoke(main, ["referentiel", "load", str(first)])
    assert created.output.endswith("105 competencies, 86 criteria (created)\n")
    second = runner.invoke(
        main, ["referentiel", "export", "diplovis-bgdc", "--format", "moodle-csv"]
    ).output
    assert second == first.read_text(encoding="utf-8")


def test_broken_csv_exits_1_and_leaves_the_database_unchanged(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(main, ["referentiel", "load", "diplovis-bgdc"])
    exported = runner.invoke(
        main, ["referentiel", "export", "diplovis-bgdc", "--format", "moodle-csv"]
    ).output
    broken = tmp_path / "broken.csv"
    # A revision that renames C1 then breaks further down: nothing of it may land.
    broken.write_text(
        exported.replace("Prendre en charge", "Prise en charge")
        + "NOWHERE,X-1,Orphan,,1,,,,,,,,0,\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["referentiel", "load", str(broken)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {broken}: line 116: parent ID number 'NOWHERE' is not a competency of this file\n"
    )
    with app.app_context():
        texts = db.session.scalars(select(Competency.text)).all()
    assert len(texts) == 105 and not any(t.startswith("Prise en charge") for t in texts)


def test_export_of_an_unknown_framework_exits_1(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["referentiel", "export", "nope", "--format", "case-json"])
    assert result.exit_code == 1
    assert result.output == "Error: no référentiel 'nope' is loaded\n"


RNCP_FIXTURES = Path(__file__).resolve().parents[1] / "referentiel" / "fixtures"


def test_import_rncp_loads_every_fiche_or_the_one_asked(runner: FlaskCliRunner) -> None:
    sample = str(RNCP_FIXTURES / "rncp-sample.xml")
    one = runner.invoke(main, ["referentiel", "import-rncp", sample, "--fiche", "RNCP36004"])
    assert one.exit_code == 0, one.output
    assert one.output == (
        "Loaded rncp36004 2021-12-15: 1 blocs, 0 activities, 2 competencies, 0 criteria (created)\n"
    )
    both = runner.invoke(main, ["referentiel", "import-rncp", sample])
    assert both.output.splitlines() == [
        "Loaded rncp38211 2023-11-29: 3 blocs, 0 activities, 10 competencies, 0 criteria (created)",
        "Loaded rncp36004 2021-12-15: 1 blocs, 0 activities, 2 competencies, 0 criteria "
        "(unchanged)",
    ]
    listed = runner.invoke(main, ["referentiel", "list"]).output
    assert "rncp38211 2023-11-29: Responsable du développement commercial" in listed


def test_import_rncp_with_an_empty_fiche_loads_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    sample = str(RNCP_FIXTURES / "rncp-sample.xml")
    result = runner.invoke(main, ["referentiel", "import-rncp", sample, "--fiche", ""])
    assert result.exit_code == 1
    assert result.output == (
        "Error: the fiche number given is empty: name one (RNCPnnnnn), or none for every fiche\n"
    )
    assert competency_count(app) == 0


def test_import_rncp_bad_file_loads_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    # The first fiche is fine, the second is broken: neither is loaded.
    path = RNCP_FIXTURES / "rncp-broken-bloc.xml"
    result = runner.invoke(main, ["referentiel", "import-rncp", str(path)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: line 19: <BLOC_COMPETENCES> has no CODE\n"
    assert competency_count(app) == 0
