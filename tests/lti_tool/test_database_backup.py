"""``lti-tool db backup``: a copy made while the tool runs holds every row, and puts the
tool back as it was. Run on SQLite, and on PostgreSQL (pg_dump, then pg_restore into a
database of its own) when the suite runs there."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine, MetaData, func, select, text
from sqlalchemy.engine import make_url

from lti_tool import create_app
from lti_tool.cli import main
from lti_tool.database import db, make_engine
from lti_tool.status import status_checks
from tests.conftest import ensure_postgres_database
from tests.lti_tool.pages_world import ISS_A, World, post_quiz_statements


def row_counts(engine: Engine) -> dict[str, int]:
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in tables.tables.items()
        }


def restored(app: Flask, backup: Path, tmp_path: Path) -> str:
    """The database URL of the backup put back as its printed advice says: the file
    itself on SQLite, pg_restore into a database of its own on PostgreSQL."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        copy = tmp_path / "restored.sqlite3"
        shutil.copy(backup, copy)
        return f"sqlite:///{copy}"
    target = url.set(database=f"{url.database}_restored")
    engine = make_engine(target.set(database="postgres").render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
    engine.dispose()
    ensure_postgres_database(target.render_as_string(hide_password=False))
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["pg_restore", "--no-owner", "--dbname", plain, str(backup)],
        check=True,
        capture_output=True,
    )
    return target.render_as_string(hide_password=False)


def test_a_backup_holds_every_row_and_the_tool_runs_on_it(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    engine = app.extensions["database"]["engine"]
    before = row_counts(engine)["xapi_statement"]
    post_quiz_statements(app, *[(ISS_A, sub, quiz) for sub in ("101", "102") for quiz in range(6)])
    backup = tmp_path / "backup-1"

    result = runner.invoke(main, ["db", "backup", str(backup)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Backed up to {backup} (")
    assert "To restore: " in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("backup-1")] == ["backup-1"]
    original = row_counts(engine)
    statements = original["xapi_statement"]
    assert statements == before + 12 and original["evidence"] > 0
    back = create_app(
        {"TESTING": True, "DATABASE_URL": restored(app, backup, tmp_path), "SECRET_KEY": "k"}
    )
    back_engine = back.extensions["database"]["engine"]
    try:
        assert row_counts(back_engine) == original
        with back.app_context():
            checks = {c.name: c for c in status_checks(db.session, back_engine, dict(back.config))}
        assert checks["schema"].ok
        assert f"; {statements} statement(s)" in checks["xapi intake"].seen
    finally:
        back_engine.dispose()


def test_an_existing_file_is_never_overwritten(
    runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    kept = tmp_path / "monday.backup"
    kept.write_bytes(b"Monday's backup")

    result = runner.invoke(main, ["db", "backup", str(kept)])

    assert result.exit_code == 1
    assert result.output == f"Error: {kept} exists already: give a new file name\n"
    assert kept.read_bytes() == b"Monday's backup"


def test_a_destination_in_no_folder_is_refused(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["db", "backup", str(tmp_path / "absent" / "b")])

    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'absent'} is not a folder\n"


def test_sqlite_backup_while_statements_keep_coming_is_one_consistent_file(
    tmp_path: Path,
) -> None:
    """The online backup is one snapshot: a copy taken while another thread commits
    passes SQLite's integrity check and holds whole commits only."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}",
            "SECRET_KEY": "k",
        }
    )
    engine = app.extensions["database"]["engine"]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE pairs (n INTEGER, twin INTEGER)"))
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            with engine.begin() as conn:  # each commit writes two rows
                conn.execute(text("INSERT INTO pairs VALUES (:n, 1), (:n, 2)"), {"n": n})
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        result = app.test_cli_runner().invoke(main, ["db", "backup", str(tmp_path / "copy")])
    finally:
        stop.set()
        writer.join()
        engine.dispose()

    assert result.exit_code == 0, result.output
    assert not (tmp_path / "copy-wal").exists()
    copy = make_engine(f"sqlite:///{tmp_path / 'copy'}")
    with copy.connect() as conn:
        assert conn.scalar(text("PRAGMA integrity_check")) == "ok"
        rows, commits = conn.execute(text("SELECT count(*), count(DISTINCT n) FROM pairs")).one()
    copy.dispose()
    assert rows == 2 * commits


@pytest.mark.postgres_only
def test_a_failed_pg_dump_is_one_line_leaves_nothing_and_hides_the_password(
    tmp_path: Path,
) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432/no_such_db",
            "SECRET_KEY": "k",
        }
    )

    result = app.test_cli_runner().invoke(main, ["db", "backup", str(tmp_path / "b.dump")])

    assert result.exit_code == 1
    assert result.output.startswith("Error: pg_dump failed: ") and result.output.count("\n") == 1
    assert "no_such_db" in result.output and "s3cret" not in result.output
    assert list(tmp_path.iterdir()) == []
