"""The dependency rule between the three packages (docs/ARCHITECTURE.md).

referentiel/ is the domain and imports neither Flask nor the other packages;
xapi/ may import referentiel/ but neither Flask nor lti_tool/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "referentiel": {"flask", "lti_tool", "xapi", "werkzeug"},
    "xapi": {"flask", "lti_tool", "werkzeug"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_outer_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_top_levels(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_the_rule_would_see_an_offending_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom flask import g\nfrom lti_tool.access import launch_url\n")
    assert imported_top_levels(module) & FORBIDDEN["referentiel"] == {"flask", "lti_tool"}
