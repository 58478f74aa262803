"""Fixtures for the référentiel: the built-in document and the seed it was curated from."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from referentiel import data_file
from referentiel.document import FrameworkDocument

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_NAME = "000_79a9cd6fccbaaf12.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The PDF-to-text seed, beside the repository (../shared/seeds/ in CI and here)."""
    path = REPO_ROOT.parent / "shared" / "seeds" / SEED_NAME
    if not path.is_file():
        pytest.skip(f"seed {SEED_NAME} not found at {path}: the curation checks need it")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def diplovis() -> FrameworkDocument:
    return data_file.read_builtin("diplovis-bgdc")


@pytest.fixture
def diplovis_data(diplovis: FrameworkDocument) -> dict[str, Any]:
    """A fresh, mutable copy of the built-in référentiel in our data format."""
    return copy.deepcopy(diplovis.to_data())
