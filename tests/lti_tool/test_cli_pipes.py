"""The CLI piped into a reader that stops early (``lti-tool evidence list | head``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask

from tests.lti_tool.pages_world import World


def test_a_reader_that_goes_away_is_not_reported_as_an_error(
    app: Flask, world: World, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")} | {
        "LTI_TOOL_DATABASE_URL": app.config["DATABASE_URL"],
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "cli-instance"),
        "LTI_TOOL_BASE_URL": app.config["BASE_URL"],
    }
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first line: every write meets a closed pipe
    try:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("lti-tool")), "evidence", "list"],
            env=env,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)

    assert done.stderr == ""
    assert done.returncode == 1
