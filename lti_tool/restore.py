"""Putting back a copy made by ``lti-tool db backup``: ``lti-tool db restore``.

Nothing is touched until the copy is known good: a backup of the same kind as the
database (an SQLite file, or a pg_dump archive for PostgreSQL), readable whole, of
this tool, at a schema revision this version ships; and no worker seen lately (the
tool must be stopped). Then the database as it is is saved first (a backup like any
other, unless it holds nothing), and replaced whole:

- SQLite: the current file is checkpointed into one file (which fails while another
  process has it open), and the copy is written beside it and renamed into place;
- PostgreSQL: the tool's tables are dropped and the archive restored in one
  transaction (``psql --single-transaction``), so that a failure leaves the database
  as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from lti_tool import migrate, worker_heartbeats
from lti_tool.backup import Backup, back_up, libpq_target, run_client
from lti_tool.exceptions import LtiToolError
from lti_tool.models.worker_heartbeat import WorkerHeartbeat
from referentiel.orm import utcnow

# A worker beats every 30 s: one seen this recently may still be running.
RUNNING_WITHIN = timedelta(seconds=90)
SQLITE_HEADER = b"SQLite format 3\x00"
PG_ARCHIVE_HEADER = b"PGDMP"
# How long the restore waits for a table another session uses before giving up.
LOCK_TIMEOUT = "10s"


class RestoreError(LtiToolError):
    """The backup cannot be put back; the database was left as it was."""


@dataclass(frozen=True)
class Checked:
    """A backup found good to restore."""

    path: Path
    kind: str  # "sqlite" or "postgresql"
    revision: str
    newest: bool  # at this version's newest schema (else `db upgrade` follows)


@dataclass(frozen=True)
class Restored:
    checked: Checked
    kept: Backup | None  # the database as it was, None when it held nothing


def check(engine: Engine, path: Path) -> Checked:
    """The backup at ``path``, checked; raises :class:`RestoreError` saying why not."""
    if not path.is_file():
        raise RestoreError(f"{path} is not a file")
    kind = engine.dialect.name
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    made_by = (
        "sqlite"
        if header == SQLITE_HEADER
        else "postgresql"
        if header.startswith(PG_ARCHIVE_HEADER)
        else None
    )
    if made_by is None:
        raise RestoreError(f"{path} is not a backup made by `lti-tool db backup`")
    if made_by != kind:
        raise RestoreError(
            f"{path} is a backup of {_NAMES[made_by]} database and this tool's database is "
            f"{_NAMES[kind]} one"
        )
    revision = _sqlite_revision(path) if kind == "sqlite" else _archive_revision(path)
    known, newest = migrate.shipped(engine)
    if revision not in known:
        raise RestoreError(
            f"{path} is at schema revision {revision}, which this version of the tool does "
            "not know: restore it with the version that made it"
        )
    return Checked(path, kind, revision, revision in newest)


_NAMES = {"sqlite": "an SQLite", "postgresql": "a PostgreSQL"}


def refuse_if_running(session: Session) -> None:
    """The tool must be stopped: refuse when a worker was seen lately, unless it ran on
    this host and its process is gone (``lti-tool serve`` stopped a moment ago). A
    database not set up yet, where a backup is restored on a new machine, has none."""
    if not inspect(session.get_bind()).has_table(WorkerHeartbeat.__tablename__):
        return
    now = utcnow()
    for worker in worker_heartbeats.latest(session):
        ago = now - worker.seen_at
        if ago >= RUNNING_WITHIN:
            return  # the latest first: the others were seen earlier still
        if not worker_heartbeats.ended_here(worker.name):
            raise RestoreError(
                f"worker {worker.name} ({worker.mode}) was seen {int(ago.total_seconds())} s "
                "ago: stop the web server and the workers before restoring"
            )


def restore(engine: Engine, checked: Checked, keep: Path) -> Restored:
    """Save the database as it is at ``keep`` (unless it holds nothing), then replace it
    with the checked backup. The engine's connections are closed."""
    tables = inspect(engine).get_table_names()
    kept = back_up(engine, keep) if tables else None
    engine.dispose()
    if checked.kind == "sqlite":
        _replace_sqlite(engine, checked.path)
    else:
        _replace_postgresql(engine, checked.path, tables)
    return Restored(checked, kept)


def default_keep(backup: Path, kind: str) -> Path:
    """Where the database as it was goes by default: beside the backup, named by when."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = ".sqlite3" if kind == "sqlite" else ".dump"
    return backup.with_name(f"before-restore-{stamp}{suffix}")


def _sqlite_revision(path: Path) -> str:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as copy:
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise RestoreError(f"{path} does not pass SQLite's integrity check: {verdict}")
            rows = copy.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error as error:
        raise RestoreError(f"{path} cannot be read: {error}") from None
    return _one_revision(path, [row[0] for row in rows])


def _archive_revision(path: Path) -> str:
    """The revision in a pg_dump archive, read by pg_restore (which also reads the whole
    archive's table of contents: a truncated or damaged file fails here)."""
    try:
        listing = run_client("pg_restore", ["--list", str(path)], dict(os.environ), RestoreError)
        script = run_client(
            "pg_restore",
            ["--data-only", "--table=alembic_version", "--file=-", str(path)],
            dict(os.environ),
            RestoreError,
        )
    except RestoreError as error:
        raise RestoreError(f"{path} cannot be read: {error}") from None
    if "TABLE DATA public alembic_version" not in listing:
        raise RestoreError(f"{path} is not a backup of this tool's database")
    lines = script.splitlines()
    start = next(
        (n for n, line in enumerate(lines) if line.startswith("COPY public.alembic_version")),
        None,
    )
    if start is None:
        raise RestoreError(f"{path} holds no schema revision")
    end = lines.index("\\.", start)
    return _one_revision(path, lines[start + 1 : end])


def _one_revision(path: Path, revisions: list[str]) -> str:
    if len(revisions) != 1:
        raise RestoreError(f"{path} holds {len(revisions)} schema revisions, not one")
    return revisions[0]


def _replace_sqlite(engine: Engine, backup: Path) -> None:
    database = engine.url.database
    if not database or database == ":memory:":
        raise RestoreError("the tool's SQLite database is not a file")
    target = Path(database)
    if target.exists():
        try:
            with closing(sqlite3.connect(target, timeout=0)) as current:
                # Everything into the one file and no write-ahead log left beside it,
                # which SQLite would otherwise replay into the restored file.
                current.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                if current.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
                    raise sqlite3.OperationalError("database is locked")
        except sqlite3.Error as error:
            raise RestoreError(
                f"{target} is in use ({error}): stop the web server and the workers"
            ) from None
    incoming = target.with_name(target.name + ".restoring")
    try:
        shutil.copyfile(backup, incoming)
        if target.exists():
            _same_access(target, incoming)
        with incoming.open("rb") as written:
            os.fsync(written.fileno())
        for leftover in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + leftover).unlink(missing_ok=True)
        os.replace(incoming, target)
    finally:
        incoming.unlink(missing_ok=True)


def _same_access(current: Path, incoming: Path) -> None:
    """Give the restored file the current one's permissions and, where this user may
    (root restoring for the tool's own user), its owner: else the tool could no longer
    write its database."""
    status = current.stat()
    os.chmod(incoming, status.st_mode & 0o7777)
    if hasattr(os, "chown"):
        with suppress(PermissionError):
            os.chown(incoming, status.st_uid, status.st_gid)


def _replace_postgresql(engine: Engine, backup: Path, tables: list[str]) -> None:
    target, env = libpq_target(engine.url)
    prepare = f"SET lock_timeout = '{LOCK_TIMEOUT}';"
    if tables:
        quote = engine.dialect.identifier_preparer.quote
        prepare += f" DROP TABLE {', '.join('public.' + quote(t) for t in tables)} CASCADE;"
    with tempfile.TemporaryDirectory(prefix="lti-tool-restore-") as work:
        script = Path(work) / "restore.sql"
        run_client(
            "pg_restore",
            ["--no-owner", "--no-privileges", "--file", str(script), str(backup)],
            env,
            RestoreError,
        )
        psql = ["--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"]
        run_client(
            "psql",
            [*psql, "--dbname", target, "--command", prepare, "--file", str(script)],
            env,
            RestoreError,
        )
