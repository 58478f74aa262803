"""``lti-tool progress``: the achievement table as JSON or CSV, one error line otherwise."""

from __future__ import annotations

import json

import pytest
from achievement_world import CONTEXT, ISSUER, World
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from lti_tool.cli import main


def test_progress_json_lists_every_learner_and_competency(
    session: Session, world: World, runner: FlaskCliRunner
) -> None:
    world.add_learner("u1")
    world.add_learner("u2")
    world.evidence("u1", "bloc-1/C1", score=0.9)
    session.commit()
    result = runner.invoke(main, ["progress", "--platform", ISSUER, "--context", CONTEXT])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 2 * 105
    first = next(r for r in rows if r["learner"] == "u1" and r["competency"] == "C1")
    assert first == {
        "learner": "u1",
        "competency_iri": "http://tool.test/referentiels/diplovis-bgdc/bloc-1/C1",
        "competency": "C1",
        "bloc": "bloc-1",
        "state": "acquis",
        "source": "rule",
        "score": 0.9,
        "evidence_count": 1,
        "last_evidence_at": "2026-03-02T10:00:00+00:00",
        "conflicting": False,
        "rule_version": 0,
    }
    untouched = next(r for r in rows if r["learner"] == "u2" and r["competency"] == "C1")
    assert (untouched["state"], untouched["evidence_count"]) == ("non_acquis", 0)


@pytest.mark.parametrize("option", ["--separator", "--delimiter"])  # as `evidence list`
def test_progress_csv_for_one_learner_with_a_bom_and_semicolons(
    session: Session, world: World, runner: FlaskCliRunner, option: str
) -> None:
    world.add_learner("u1")
    world.add_learner("=cmd")
    world.evidence("=cmd", "bloc-2/C3", score=0.2)
    session.commit()
    result = runner.invoke(
        main,
        [
            *("progress", "--platform", ISSUER, "--context", CONTEXT, "--learner", "=cmd"),
            *("--format", "csv", option, ";"),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("\ufefflearner;competency_iri;competency;bloc;state")
    assert len(lines) == 1 + 105
    row = next(line for line in lines if "/bloc-2/C3;" in line)
    # French spreadsheets: ';' goes with a decimal comma; the formula-like sub is neutralised.
    assert row.startswith("'=cmd;") and ";en_cours;rule;0,2;1;" in row


def test_progress_unknown_course_is_one_error_line(runner: FlaskCliRunner, world: World) -> None:
    result = runner.invoke(main, ["progress", "--platform", ISSUER, "--context", "nope"])
    assert result.exit_code == 1
    assert result.output == f"Error: no course 'nope' known for platform '{ISSUER}'\n"
