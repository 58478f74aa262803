"""A setting the tool cannot use stops the command with one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lti_tool.cli import main


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
    ],
)
def test_an_unusable_setting_is_one_line_and_exit_1(
    variable: str, expected: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main,
        ["db", "check"],
        env={
            variable: "bogus",
            "LTI_TOOL_INSTANCE_PATH": str(tmp_path),
            "LTI_TOOL_DATABASE_URL": f"sqlite:///{tmp_path / 'tool.sqlite3'}",
        },
    )
    assert result.exit_code == 1
    assert result.output == expected
