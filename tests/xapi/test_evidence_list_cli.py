"""``lti-tool evidence list``: filters, JSON, and CSV that spreadsheets open safely."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session
from xapi_samples import MOODLE, OTHER_MOODLE, cmi5_passed, competency_iri

from lti_tool.cli import main
from lti_tool.models import Competency, LtiUser

Store = Callable[..., Any]


@pytest.fixture
def two_platforms(
    referentiel: dict[str, Competency], make_user: Callable[..., LtiUser], store: Store
) -> None:
    make_user("42")
    make_user("43", issuer=OTHER_MOODLE)
    store(
        cmi5_passed("42", "bloc-2/C9", scaled=0.85),
        cmi5_passed("42", "bloc-1/C1", scaled=0.4, success=False),
        cmi5_passed("43", "bloc-2/C9", scaled=0.95, site=OTHER_MOODLE),
    )


def listed(runner: FlaskCliRunner, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(main, ["evidence", "list", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def test_json_lists_every_evidence_with_its_learner_competency_and_result(
    runner: FlaskCliRunner, two_platforms: None
) -> None:
    rows = listed(runner)

    assert len(rows) == 3
    first = next(r for r in rows if r["learner"] == "42" and r["competency_code"] == "bloc-2/C9")
    assert first["platform"] == MOODLE
    assert first["competency"] == competency_iri("bloc-2/C9")
    assert first["score_scaled"] == 0.85 and first["success"] is True
    assert first["occurred_at"] == "2026-11-21T14:02:11.250000+00:00"
    assert first["verb"] == "http://adlnet.gov/expapi/verbs/passed"


def test_filters_by_platform_learner_and_competency(
    runner: FlaskCliRunner, two_platforms: None
) -> None:
    assert {r["learner"] for r in listed(runner, "--platform", f"{OTHER_MOODLE}/")} == {"43"}
    assert len(listed(runner, "--platform", MOODLE, "--learner", "42")) == 2
    by_competency = listed(runner, "--competency", competency_iri("bloc-2/C9"))
    assert sorted(r["learner"] for r in by_competency) == ["42", "43"]


def test_unknown_competency_is_one_error_line(runner: FlaskCliRunner, two_platforms: None) -> None:
    result = runner.invoke(main, ["evidence", "list", "--competency", competency_iri("bloc-9/C1")])

    assert result.exit_code == 1
    assert result.output == f"Error: no competency has the IRI {competency_iri('bloc-9/C1')}\n"


def test_csv_is_utf8_with_bom_semicolons_and_decimal_commas_for_french_spreadsheets(
    runner: FlaskCliRunner, two_platforms: None, tmp_path: Path
) -> None:
    target = tmp_path / "preuves.csv"

    result = runner.invoke(
        main,
        [
            "evidence",
            "list",
            "--format",
            "csv",
            "--delimiter",
            ";",
            "--learner",
            "42",
            "--competency",
            competency_iri("bloc-2/C9"),
            "-o",
            str(target),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 1 evidence rows to {target} (csv).\n"
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfplatform;learner;learner_name;competency;")
    header, row, end = data.decode("utf-8-sig").split("\r\n")
    assert end == ""
    cells = row.split(";")
    assert cells[:3] == [MOODLE, "42", "Learner 42"]
    assert cells[header.split(";").index("score_scaled")] == "0,85"


def test_csv_neutralises_cells_that_a_spreadsheet_would_evaluate(
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    user = make_user("=1+1")
    user.name = "@SUM(A1:A9)"
    store(cmi5_passed("=1+1", "bloc-2/C9", scaled=-0.5, success=False))

    result = runner.invoke(main, ["evidence", "list", "--format", "csv"])

    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[1].split(",")
    assert row[1:3] == ["'=1+1", "'@SUM(A1:A9)"]
    assert "-0.5" in row  # our own numbers stay numbers


def test_rederive_turns_statements_of_users_never_resolved_into_evidence_once(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    store(cmi5_passed("42", "bloc-2/C9", scaled=0.85))
    make_user("42")  # written by code that did not call resolve_pending_for_user

    first = runner.invoke(main, ["evidence", "rederive"])
    again = runner.invoke(main, ["evidence", "rederive"])

    assert first.output == "Recomputed evidence from 1 statements: 1 added, 0 withdrawn.\n"
    assert again.output == "Recomputed evidence from 1 statements: 0 added, 0 withdrawn.\n"
    assert len(listed(runner)) == 1
