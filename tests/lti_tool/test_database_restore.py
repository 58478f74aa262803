"""``lti-tool db restore``: a backup put back whole, the database as it was saved first,
and nothing touched when the file is not a good backup of this tool, is of the other
kind of database, comes from a newer version, or the tool still runs. On SQLite, and
on PostgreSQL (pg_restore and psql, in one transaction) when the suite runs there."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine, text

from lti_tool import create_app, restore
from lti_tool.cli import main
from lti_tool.database import db, make_engine
from lti_tool.status import status_checks
from lti_tool.worker_heartbeats import beat
from referentiel.orm import utcnow
from tests.lti_tool.pages_world import ISS_A, World, post_quiz_statements
from tests.lti_tool.test_database_backup import restored, row_counts


def engine_of(app: Flask) -> Engine:
    engine: Engine = app.extensions["database"]["engine"]
    return engine


def backed_up(app: Flask, runner: FlaskCliRunner, path: Path) -> dict[str, int]:
    """Back the database up to ``path``; the row counts it holds."""
    result = runner.invoke(main, ["db", "backup", str(path)])
    assert result.exit_code == 0, result.output
    return row_counts(engine_of(app))


def restoring(runner: FlaskCliRunner, backup: Path, *options: str) -> Result:
    return runner.invoke(main, ["db", "restore", str(backup), *options])


def more_statements(app: Flask) -> None:
    post_quiz_statements(app, *[(ISS_A, "101", quiz) for quiz in range(3)])


@contextmanager
def revision_set_to(app: Flask, revision: str) -> Iterator[None]:
    """The database says it is at ``revision`` (then at its own again)."""
    with engine_of(app).begin() as conn:
        newest = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    try:
        yield
    finally:
        with engine_of(app).begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": newest})


def test_restore_puts_every_row_back_and_saves_the_database_as_it_was(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    more_statements(app)
    backup = tmp_path / "monday.backup"
    at_backup = backed_up(app, runner, backup)
    post_quiz_statements(app, *[(ISS_A, "102", quiz) for quiz in range(4)])
    before_restore = row_counts(engine_of(app))
    assert before_restore != at_backup
    kept = tmp_path / "kept"

    result = restoring(runner, backup, "--yes", "--keep-current", str(kept))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"The database as it was is saved at {kept}.",
        f"Restored {backup} (schema revision {_revision(app)}) into "
        f"{engine_of(app).url.render_as_string(hide_password=True)}.",
    ]
    assert row_counts(engine_of(app)) == at_backup
    with app.app_context():
        checks = {c.name: c for c in status_checks(db.session, engine_of(app), dict(app.config))}
    assert checks["schema"].ok
    assert f"; {at_backup['xapi_statement']} statement(s)" in checks["xapi intake"].seen
    saved_engine = make_engine(restored(app, kept, tmp_path))
    try:
        assert row_counts(saved_engine) == before_restore
    finally:
        saved_engine.dispose()


def test_a_backup_says_how_to_restore_it(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["db", "backup", str(tmp_path / "b")])

    assert result.output.splitlines()[-1] == (
        f"To restore: stop the web server and the workers, then "
        f"`lti-tool db restore {tmp_path / 'b'}`"
    )


def test_without_yes_it_asks_and_no_changes_nothing(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    backup = folder / "b"
    backed_up(app, runner, backup)
    more_statements(app)
    now = row_counts(engine_of(app))

    result = runner.invoke(main, ["db", "restore", str(backup)], input="n\n")

    assert result.exit_code == 1
    assert "Replace every row of " in result.output and result.output.endswith("Aborted!\n")
    assert row_counts(engine_of(app)) == now
    assert [p.name for p in folder.iterdir()] == ["b"]


def _foreign_backup(app: Flask, path: Path) -> str:
    """A file of the other kind of backup than the app's database; the error expected."""
    if engine_of(app).dialect.name == "sqlite":
        path.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 200)
        return "a backup of a PostgreSQL database and this tool's database is an SQLite one"
    with sqlite3.connect(path) as made:
        made.execute("CREATE TABLE alembic_version (version_num TEXT)")
    return "a backup of an SQLite database and this tool's database is a PostgreSQL one"


@pytest.mark.parametrize("kind", ["text", "empty", "other database", "truncated"])
def test_a_file_that_is_no_good_backup_is_refused_and_nothing_changes(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    bad = folder / "bad"
    if kind == "text":
        bad.write_text("id,name\n1,Alice\n")
        expected = f"{bad} is not a backup made by `lti-tool db backup`"
    elif kind == "empty":
        bad.write_bytes(b"")
        expected = f"{bad} is not a backup made by `lti-tool db backup`"
    elif kind == "other database":
        expected = f"{bad} is {_foreign_backup(app, bad)}"
    else:
        whole = folder / "whole"
        backed_up(app, runner, whole)
        bad.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
        whole.unlink()
        expected = str(bad)
    now = row_counts(engine_of(app))

    result = restoring(runner, bad, "--yes")

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {expected}") and result.output.count("\n") == 1
    assert row_counts(engine_of(app)) == now
    assert [p.name for p in folder.iterdir()] == ["bad"]


def test_a_missing_file_is_refused(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = restoring(runner, tmp_path / "absent", "--yes")

    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'absent'} is not a file\n"


def test_a_backup_from_a_newer_version_is_refused(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    backup = tmp_path / "future"
    with revision_set_to(app, "9999_from_the_future"):
        backed_up(app, runner, backup)
    now = row_counts(engine_of(app))

    result = restoring(runner, backup, "--yes")

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {backup} is at schema revision 9999_from_the_future, which this version "
        "of the tool does not know: restore it with the version that made it\n"
    )
    assert row_counts(engine_of(app)) == now


def test_an_older_backup_is_restored_and_upgrade_is_asked_for(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    backup = tmp_path / "older"
    with revision_set_to(app, "0120_index_rows_in_stored_order"):
        backed_up(app, runner, backup)
        result = restoring(runner, backup, "--yes")

        assert result.exit_code == 0, result.output
        assert "(schema revision 0120_index_rows_in_stored_order)" in result.output
        assert result.output.splitlines()[-1] == (
            "This backup's schema is older than this version's: run `lti-tool db upgrade`."
        )


def ended_process_id() -> int:
    process = subprocess.Popen(["true"])  # a process that ends at once
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    "worker",
    [
        "web-2:4242:1",  # another host: whether it still runs cannot be told from here
        f"{socket.gethostname()}:{os.getpid()}:1",  # this host, a process that runs
    ],
)
def test_restore_is_refused_while_a_worker_beats(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path, worker: str
) -> None:
    backup = tmp_path / "b"
    backed_up(app, runner, backup)
    with app.app_context():
        beat(db.session, worker, "worker", utcnow())
    now = row_counts(engine_of(app))

    result = restoring(runner, backup, "--yes")

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: worker {worker} (worker) was seen ")
    assert result.output.endswith(" s ago: stop the web server and the workers before restoring\n")
    assert row_counts(engine_of(app)) == now


def test_a_worker_of_this_host_whose_process_ended_does_not_hold_the_restore(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    """`lti-tool serve` beat a moment ago and was stopped: the restore goes ahead."""
    backup = tmp_path / "b"
    at_backup = backed_up(app, runner, backup)
    with app.app_context():
        beat(db.session, f"{socket.gethostname()}:{ended_process_id()}:1", "serve", utcnow())

    result = restoring(runner, backup, "--yes")

    assert result.exit_code == 0, result.output
    assert row_counts(engine_of(app)) == at_backup


def test_sqlite_in_use_by_another_process_is_not_replaced(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    if engine_of(app).dialect.name != "sqlite":
        pytest.skip("SQLite's file")
    backup = tmp_path / "b"
    backed_up(app, runner, backup)
    more_statements(app)
    now = row_counts(engine_of(app))
    other = sqlite3.connect(str(engine_of(app).url.database))
    other.execute("BEGIN")
    other.execute("SELECT count(*) FROM xapi_statement").fetchone()
    try:
        result = restoring(runner, backup, "--yes")
    finally:
        other.close()

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {engine_of(app).url.database} is in use (")
    assert result.output.endswith("): stop the web server and the workers\n")
    assert row_counts(engine_of(app)) == now


@pytest.mark.postgres_only
def test_a_postgresql_restore_that_fails_midway_leaves_the_database_as_it_was(
    app: Flask,
    runner: FlaskCliRunner,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another session holds a table: dropping it times out, and the transaction that
    had dropped the others and begun restoring is rolled back whole."""
    backup = tmp_path / "b.dump"
    backed_up(app, runner, backup)
    more_statements(app)
    now = row_counts(engine_of(app))
    monkeypatch.setattr(restore, "LOCK_TIMEOUT", "500ms")
    elsewhere = make_engine(app.config["DATABASE_URL"])
    try:
        with elsewhere.connect() as holder:
            holder.execute(text("LOCK TABLE xapi_statement IN ACCESS SHARE MODE"))
            result = restoring(runner, backup, "--yes")
            holder.rollback()
    finally:
        elsewhere.dispose()

    assert result.exit_code == 1
    assert result.output.startswith("Error: psql failed: ")
    assert "lock timeout" in result.output and result.output.count("\n") == 1
    assert row_counts(engine_of(app)) == now


def _revision(app: Flask) -> str:
    with engine_of(app).connect() as conn:
        return str(conn.scalar(text("SELECT version_num FROM alembic_version")))


def test_a_backup_is_restored_on_a_new_machine_whose_database_is_not_set_up(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    if engine_of(app).dialect.name != "sqlite":
        pytest.skip("a new SQLite file; on PostgreSQL the suite's database is shared")
    backup = tmp_path / "b"
    at_backup = backed_up(app, runner, backup)
    fresh = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
            "SECRET_KEY": "k",
        }
    )

    result = fresh.test_cli_runner().invoke(main, ["db", "restore", str(backup), "--yes"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Restored {backup} ")
    assert row_counts(engine_of(fresh)) == at_backup
    engine_of(fresh).dispose()


def test_the_restored_sqlite_file_keeps_the_database_file_s_permissions(
    app: Flask, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    """Restored by an administrator, the file must stay the tool's to write."""
    if engine_of(app).dialect.name != "sqlite":
        pytest.skip("SQLite's file")
    database = Path(str(engine_of(app).url.database))
    backup = tmp_path / "b"
    backed_up(app, runner, backup)
    database.chmod(0o640)
    before = database.stat()

    result = restoring(runner, backup, "--yes")

    assert result.exit_code == 0, result.output
    after = database.stat()
    assert (after.st_mode & 0o777, after.st_uid, after.st_gid) == (
        0o640,
        before.st_uid,
        before.st_gid,
    )
