"""DATABASE_DURABILITY: whether commits wait for the disk (lti_tool.database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from lti_tool.database import make_engine


@pytest.mark.parametrize(("durability", "synchronous"), [("full", 2), ("relaxed", 1)])
def test_sqlite_synchronous_follows_the_durability(
    tmp_path: Path, durability: str, synchronous: int
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}", durability)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == synchronous
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DATABASE_DURABILITY"):
        make_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}", "fast")
