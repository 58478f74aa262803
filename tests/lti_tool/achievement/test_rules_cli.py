"""``lti-tool rules show|set``: the rules in words, a new audited version, errors in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from achievement_world import World
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import CompetencyState
from lti_tool.cli import main
from referentiel.audit import AuditEvent


def test_set_then_show_rules(
    session: Session, world: World, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C1", score=0.6)
    session.commit()
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(
        json.dumps(
            {
                "default": {"method": "highest", "mastery_threshold": 0.7},
                "blocs": {"bloc-2": {"method": "n_mastery", "n_successes": 3}},
            }
        )
    )
    result = runner.invoke(
        main,
        ["rules", "set", "--framework", "diplovis-bgdc", "--reason", "council", str(rules_file)],
    )
    assert result.output == "Rules of diplovis-bgdc now at version 1; 1 learner(s) recomputed.\n"
    session.expire_all()
    state = session.scalars(
        select(CompetencyState).where(
            CompetencyState.competency_id == world.competency("bloc-1", "C1").id
        )
    ).one()
    assert (state.state, state.rule_version) == ("en_cours", 1)
    assert session.scalars(select(AuditEvent).where(AuditEvent.kind == "rule.changed")).one()
    shown = runner.invoke(main, ["rules", "show", "--framework", "diplovis-bgdc"])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[:3] == [
        "# diplovis-bgdc: rules version 1",
        "# default: best result at least 70 %",
        "# bloc-2: success (at least 70 %) in 3 distinct activities, judged on at least 2",
    ]


def test_bad_rules_are_one_error_line_and_change_nothing(
    world: World, runner: FlaskCliRunner, tmp_path: Path, session: Session
) -> None:
    session.commit()
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"default": {"method": "median"}}))
    result = runner.invoke(
        main, ["rules", "set", "--framework", "diplovis-bgdc", "--reason", "x", str(rules_file)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: default: unknown method 'median'")
    unknown = runner.invoke(main, ["rules", "show", "--framework", "nope"])
    assert unknown.output == "Error: no framework 'nope' loaded\n"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"default": [1, 2]}, "default must be a JSON object, not an array"),
        ({"blocs": {"bloc-1": 5}}, "blocs['bloc-1'] must be a JSON object, not 5"),
        (
            {"default": {"validity_days": 99_999_999_999}},
            "default: validity_days must be a whole number from 1 to 36500 (or null), "
            "not 99999999999",
        ),
        (
            {"blocs": {"nope": {}}, "competencies": {"bloc-1/C999": {}}},
            "override of what the framework does not have: 'nope' (no such bloc), "
            "'bloc-1/C999' (no such competency)",
        ),
    ],
)
def test_rules_that_cannot_apply_exit_1_in_one_line_and_record_nothing(
    world: World,
    runner: FlaskCliRunner,
    tmp_path: Path,
    session: Session,
    rules: dict[str, Any],
    message: str,
) -> None:
    session.commit()
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(rules))
    result = runner.invoke(
        main, ["rules", "set", "--framework", "diplovis-bgdc", "--reason", "x", str(rules_file)]
    )
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
    assert not session.scalars(select(AuditEvent).where(AuditEvent.kind == "rule.changed")).all()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply to be rules"),
        (
            '{"default": {"n_successes": ' + "9" * 5000 + "}}",
            "a number in the JSON is too long to read",
        ),
    ],
)
def test_a_rules_file_python_cannot_read_exits_1_in_one_line(
    world: World, runner: FlaskCliRunner, tmp_path: Path, text: str, complaint: str
) -> None:
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(text)
    result = runner.invoke(
        main, ["rules", "set", "--framework", "diplovis-bgdc", "--reason", "x", str(rules_file)]
    )
    assert result.exit_code == 1
    assert result.output == f"Error: {rules_file}: {complaint}\n"
