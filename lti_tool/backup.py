"""A consistent copy of the whole database while the tool runs: ``lti-tool db backup``.

SQLite: SQLite's online backup, one snapshot taken while requests and the worker go on
writing, made a single self-contained file (rollback journal, no ``-wal`` beside it)
and checked with ``PRAGMA integrity_check``. PostgreSQL: ``pg_dump`` in its custom
format, which ``pg_restore`` reads; the password goes to it through the environment,
never on a command line another user could read.

Either way the copy is written beside the destination first and renamed into place
once complete, so a failed or interrupted backup never leaves a file that looks like a
backup, and an existing file is never overwritten.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from lti_tool.exceptions import LtiToolError

# How to put a backup back, for the person who made it.
RESTORE = "stop the web server and the workers, then `lti-tool db restore {path}`"


class BackupError(LtiToolError):
    """The backup could not be made; nothing was left at the destination."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes
    restore: str  # how to put it back, for the person who made it


def back_up(engine: Engine, destination: Path) -> Backup:
    if destination.exists():
        raise BackupError(f"{destination} exists already: give a new file name")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} is not a folder")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if engine.dialect.name == "sqlite":
            _sqlite(engine.url, partial)
        elif engine.dialect.name == "postgresql":
            _postgresql(engine.url, partial)
        else:
            raise BackupError(f"no backup for a {engine.dialect.name} database")
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(destination, destination.stat().st_size, RESTORE.format(path=destination))


def _sqlite(url: URL, partial: Path) -> None:
    source_path = url.database
    if not source_path or source_path == ":memory:" or not Path(source_path).is_file():
        raise BackupError(f"no SQLite database file at {source_path!r}")
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)  # in one step: one consistent snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, nothing beside it
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as error:
        raise BackupError(f"SQLite backup failed: {error}") from None
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        raise BackupError(f"the copy does not pass SQLite's integrity check: {verdict}")


def client_major(program: str) -> int | None:
    """The major version of one of PostgreSQL's client programs on this host (``pg_dump
    (PostgreSQL) 15.2`` gives 15), or None when it is not installed or says no version."""
    found = shutil.which(program)
    if found is None:
        return None
    # The program found on PATH, asked only for its version.
    done = subprocess.run(  # noqa: S603
        [found, "--version"], capture_output=True, text=True, check=False
    )
    version = re.search(r"\)\s+(\d+)", done.stdout)
    return int(version.group(1)) if done.returncode == 0 and version else None


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """The database as PostgreSQL's own tools name it (``--dbname``), without its
    password, and their environment, which carries the password (``PGPASSWORD``)."""
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return target, env


def _postgresql(url: URL, partial: Path) -> None:
    target, env = libpq_target(url)
    run_client("pg_dump", ["--format=custom", "--file", str(partial), "--dbname", target], env)


def run_client(
    program: str,
    arguments: list[str],
    env: dict[str, str],
    error: type[LtiToolError] = BackupError,
) -> str:
    """Run one of PostgreSQL's client programs (pg_dump, pg_restore, psql); its output.
    Missing, or failing, it raises ``error`` with its last error line."""
    found = shutil.which(program)
    if found is None:
        raise error(f"{program} is not installed (Debian: apt install postgresql-client)")
    # The arguments are this installation's own settings, passed as a list (no shell).
    done = subprocess.run(  # noqa: S603
        [found, *arguments], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise error(f"{program} failed: {reason}")
    return done.stdout
