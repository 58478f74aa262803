"""A non-editable install works from any folder: templates and the built-in référentiel
ship inside the wheel and are found there (importlib.resources, templates_folder())."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs inside the unpacked wheel, from an unrelated folder.
PROBE = """
import json, sys
from pathlib import Path
import lti_tool, referentiel
from lti_tool import create_app, migrate, templates_folder
from lti_tool.database import db
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
app = create_app({"DATABASE_URL": "sqlite:///" + sys.argv[1], "SECRET_KEY": "x",
                  "BASE_URL": "http://wheel.test"})
with app.app_context():
    migrate.upgrade(db.engine)
    load_document(db.session, read_builtin("diplovis-bgdc"))
    db.session.commit()
page = app.test_client().get("/referentiels/diplovis-bgdc/bloc-7a/C14",
                             headers={"Accept": "text/html"})
print(json.dumps({
    "lti_tool": lti_tool.__file__, "referentiel": referentiel.__file__,
    "templates": str(templates_folder()), "status": page.status_code,
    "page": page.get_data(as_text=True),
    "counts": read_builtin("diplovis-bgdc").counts(),
}))
"""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.fail(f"pip wheel failed: {built.stderr[-2000:]}")
    [path] = out.glob("*.whl")
    return path


def test_wheel_ships_templates_and_referentiel_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "lti_tool/templates/base.html",
        "lti_tool/templates/referentiel/competency.html",
        "referentiel/data/diplovis-bgdc.json",
        "referentiel/data/referentiel.schema.json",
        "lti_tool/migrations/versions/0020_ref_retire_raw.py",
    } <= names


def test_installed_wheel_serves_pages_and_loads_the_builtin_from_another_folder(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "i")}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "wheel.sqlite3")],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["lti_tool"].startswith(str(site))
    assert result["referentiel"].startswith(str(site))
    assert result["templates"] == str(site / "lti_tool" / "templates")
    assert result["status"] == 200
    assert "<h1>Compétence C14</h1>" in result["page"]
    assert result["counts"] == {"blocs": 8, "activities": 29, "competencies": 105, "criteria": 86}
