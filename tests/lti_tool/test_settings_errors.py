"""A setting the tool cannot use, or a database or file failing beneath a command, stops
the command with one line saying what is wrong (exit 1, no stack trace, no secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lti_tool.cli import main
from lti_tool.cli.failures import describe
from lti_tool.database import make_engine


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (
            "LTI_TOOL_EVIDENCE_DERIVATION",
            "Error: LTI_TOOL_EVIDENCE_DERIVATION must be one of background, inline, worker, "
            "not 'bogus'\n",
        ),
        (
            "LTI_TOOL_DATABASE_DURABILITY",
            "Error: LTI_TOOL_DATABASE_DURABILITY must be one of full, relaxed, not 'bogus'\n",
        ),
        (
            "LTI_TOOL_AGS_MAX_ATTEMPTS",
            "Error: LTI_TOOL_AGS_MAX_ATTEMPTS must be a number, not 'bogus'\n",
        ),
        (
            "LTI_TOOL_TRUSTED_PROXIES",
            "Error: LTI_TOOL_TRUSTED_PROXIES must be a number, not 'bogus'\n",
        ),
        (
            "LTI_TOOL_RATE_LIMIT_LAUNCH",
            "Error: LTI_TOOL_RATE_LIMIT_LAUNCH must be a rate limit such as '10 per hour', "
            "not 'bogus'\n",
        ),
        (
            "LTI_TOOL_RATE_LIMIT_STORAGE_URL",
            "Error: LTI_TOOL_RATE_LIMIT_STORAGE_URL must be memory:// or redis://host:port, "
            "not 'bogus'\n",
        ),
        (
            "LTI_TOOL_DATABASE_URL",
            "Error: LTI_TOOL_DATABASE_URL is not a database URL the tool can use "
            "(ArgumentError: Could not parse SQLAlchemy URL from given URL string)\n",
        ),
    ],
)
def test_an_unusable_setting_is_one_line_and_exit_1(
    variable: str, expected: str, tmp_path: Path
) -> None:
    env = {
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path),
        "LTI_TOOL_DATABASE_URL": f"sqlite:///{tmp_path / 'tool.sqlite3'}",
    }
    result = CliRunner().invoke(main, ["db", "check"], env={**env, variable: "bogus"})
    assert result.exit_code == 1
    assert result.output == expected


def run(tmp_path: Path, args: list[str], database_url: str | None = None) -> Result:
    url = database_url or f"sqlite:///{tmp_path / 'tool.sqlite3'}"
    env = {"LTI_TOOL_INSTANCE_PATH": str(tmp_path), "LTI_TOOL_DATABASE_URL": url}
    return CliRunner().invoke(main, args, env=env)


def test_a_database_not_upgraded_says_to_upgrade_it(tmp_path: Path) -> None:
    result = run(tmp_path, ["referentiel", "list"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: the database is not set up or not up to date: run `lti-tool db upgrade`\n"
    )


def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, ["referentiel", "list"], "postgresql+psycopg://nobody:pw@127.0.0.1:1/x")
    assert result.exit_code == 1
    assert result.output.startswith("Error: the database cannot be used (")
    assert result.output.count("\n") == 1 and "pw" not in result.output


def test_an_output_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    assert run(tmp_path, ["db", "upgrade"]).exit_code == 0
    assert run(tmp_path, ["referentiel", "load", "diplovis-bgdc"]).exit_code == 0
    target = tmp_path / "missing" / "out.csv"
    result = run(
        tmp_path,
        ["referentiel", "export", "diplovis-bgdc", "--format", "moodle-csv", "-o", str(target)],
    )
    assert result.exit_code == 1
    assert result.output == f"Error: No such file or directory: {target}\n"


def test_a_failed_write_never_shows_the_values_it_carried(tmp_path: Path) -> None:
    """A private key or a credential hash in a failed INSERT stays out of the message."""
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE key (kid TEXT PRIMARY KEY, pem TEXT)"))
        connection.execute(text("INSERT INTO key VALUES ('k1', 'PRIVATE-1')"))
    with pytest.raises(IntegrityError) as failure, engine.begin() as connection:
        connection.execute(
            text("INSERT INTO key VALUES (:kid, :pem)"), {"kid": "k1", "pem": "PRIVATE-2"}
        )
    engine.dispose()
    assert "PRIVATE-2" not in str(failure.value)
    assert describe(failure.value) == (
        "the database refused the change (IntegrityError: UNIQUE constraint failed: key.kid)"
    )
