"""DATABASE_DURABILITY: whether commits wait for the disk (lti_tool.database)."""

from __future__ import annotations

import time
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


@pytest.mark.postgres_only
def test_a_connection_idle_across_a_server_side_disconnect_is_replaced(database_url: str) -> None:
    """A pooled connection the server dropped while it sat idle (a restart, an idle
    timeout) is checked before use and replaced: the request does not fail."""
    engine = make_engine(database_url, ping_after_idle=0.05)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = make_engine(database_url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    time.sleep(0.2)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    engine.dispose()


@pytest.mark.postgres_only
def test_a_connection_in_steady_use_is_not_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url, ping_after_idle=60)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection))
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    engine.dispose()
