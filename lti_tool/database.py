"""SQLAlchemy engine and per-request session, bound to the app in the factory.

Plain SQLAlchemy 2.0 rather than Flask-SQLAlchemy: the domain packages take a
``Session`` argument and must run without Flask (CLI, worker, tests).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import orjson
from flask import Flask, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.exceptions import ConfigurationError

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's own wait only
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

DURABILITIES = ("full", "relaxed")
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(
    url: str, durability: str = "full", ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> Engine:
    """The engine; ``durability`` decides whether each commit waits for the disk.

    ``full`` (default): every commit is flushed to disk before it returns. ``relaxed``:
    SQLite's WAL with ``synchronous=NORMAL`` and PostgreSQL's ``synchronous_commit=off``;
    the database is never corrupted, but an operating-system crash or power loss may
    lose the last commits (up to a few hundred milliseconds), which an application
    crash never does. It makes single-statement xAPI writes several times faster on
    disks whose flush is slow.

    ``ping_after_idle``: a server connection idle in the pool this long is checked
    before use (:func:`_ping_when_idle`).
    """
    if durability not in DURABILITIES:
        raise ConfigurationError(
            f"LTI_TOOL_DATABASE_DURABILITY must be one of {', '.join(DURABILITIES)}, "
            f"not {durability!r}"
        )
    # JSON columns (audit details, state explanations) through orjson: several times
    # faster than the json module, and derivation writes one per evidence row.
    options: dict[str, Any] = {
        "future": True,
        # Errors and logs never show the values of a statement: they may be secrets
        # (private keys, credential hashes) or a learner's data.
        "hide_parameters": True,
        "json_serializer": _json_text,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
    try:
        engine = create_engine(url, **options)
    except (ArgumentError, ValueError, ImportError) as error:  # ImportError: no driver
        # The message is SQLAlchemy's or the driver's about the URL's form, which does
        # not quote the URL (nor its password).
        reason = str(error).splitlines()[0] if str(error) else ""
        raise ConfigurationError(
            f"LTI_TOOL_DATABASE_URL is not a database URL the tool can use "
            f"({type(error).__name__}: {reason})"
        ) from None
    if engine.dialect.name == "sqlite":
        synchronous = "NORMAL" if durability == "relaxed" else "FULL"

        def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

        event.listen(engine, "connect", sqlite_pragmas)
    elif durability == "relaxed" and engine.dialect.name == "postgresql":

        def asynchronous_commit(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET synchronous_commit TO off")
            cursor.close()
            dbapi_connection.commit()

        event.listen(engine, "connect", asynchronous_commit)
    if engine.dialect.name != "sqlite":  # a server, which may restart under the pool
        _ping_when_idle(engine, ping_after_idle)
    return engine


def write_turn(engine: Engine) -> AbstractContextManager[None]:
    """On a SQLite file: wait for this writer's turn, and hold it until the block ends
    (around a transaction's writes and its commit). Elsewhere: nothing.

    SQLite has one write lock, and a writer that finds it taken sleeps 1, 2, 5, 10, 15
    ms and more between tries, so that a POST arriving during a derivation round waited
    up to three times as long as the round. The hot writers (statement storage and
    derivation rounds) queue on an exclusive ``flock`` of a file beside the database
    instead, which hands over the moment its holder is done. Other writers keep
    SQLite's own wait; the flock orders, SQLite's lock still protects. Not re-entrant:
    a thread taking it again inside itself would release it at the inner block's end.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:") or fcntl is None:
        return nullcontext()
    return _flocked(f"{path}-writers")


def checkpoint_wal(engine: Engine) -> None:
    """On SQLite: copy the write-ahead log into the database file now, without waiting
    for readers or writers (``PASSIVE``), so that requests do not.

    SQLite checkpoints in whichever commit finds the log past 1,000 pages, and a batch
    of 100 statements writes about 150: every fifth batch paid a 4 MB copy and a flush
    (20 ms instead of 15). The derivation loop calls this after each round instead;
    SQLite's own checkpoints stay as the safety net when no loop runs.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@contextmanager
def _flocked(path: str) -> Iterator[None]:
    descriptor = _descriptor(path)
    if descriptor is None:  # the lock file cannot be opened: SQLite's own wait only
        yield
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


class _Opened(dict[tuple[int, str], int]):
    """A thread's lock-file descriptors, by (process id, path), closed with the thread."""

    def __del__(self) -> None:
        for (pid, _path), descriptor in self.items():
            if pid == os.getpid():
                os.close(descriptor)


_descriptors = threading.local()
_unusable: set[str] = set()  # lock files already reported as unusable


def _descriptor(path: str) -> int | None:
    """This thread's descriptor of the lock file: flock locks belong to an open file,
    so threads sharing one descriptor would all "have" the lock, and so would a child
    process forked with it (hence the process id). Read-only is enough for flock, so a
    worker running as another user can open the file the web server created. None when
    the file cannot be opened (a read-only folder): writes then go on without turns,
    and that is said once per process."""
    opened: _Opened | None = getattr(_descriptors, "opened", None)
    if opened is None:
        opened = _descriptors.opened = _Opened()
    key = (os.getpid(), path)
    if key not in opened:
        try:
            opened[key] = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if path not in _unusable:
                _unusable.add(path)
                log.warning(
                    "SQLite writers will not take turns: cannot open %s (%s)",
                    path,
                    error.strerror,
                )
            return None
    return opened[key]


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use when it has been idle ``idle_seconds``
    (a database restarted meanwhile is then noticed, the connection replaced, and no
    request fails), not when it is in steady use: SQLAlchemy's ``pool_pre_ping`` pings
    at every checkout, a round trip that was a sixth of a single xAPI POST on
    PostgreSQL. A database that restarts within the second after a connection's last
    use fails that connection's next request (503) and SQLAlchemy renews the pool."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (a new one).
            raise DisconnectionError(f"stale database connection: {error}") from error


def _json_text(value: Any) -> str:
    """JSON column text by orjson, or by the json module for what orjson refuses:
    integers beyond 64 bits, which a platform's signed claims may carry (a Deep Linking
    launch's claims are kept until the choice is made)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


class Database:
    """The app's engine and a session per application context."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        engine = make_engine(
            app.config["DATABASE_URL"], str(app.config.get("DATABASE_DURABILITY") or "full")
        )
        app.extensions["database"] = {
            "engine": engine,
            # Domain code without Flask (xapi.evidence) reads the tool's URL here.
            "sessionmaker": sessionmaker(
                engine, expire_on_commit=False, info={"base_url": app.config["BASE_URL"]}
            ),
        }
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def _state() -> dict[str, Any]:
        from flask import current_app

        state: dict[str, Any] = current_app.extensions["database"]
        return state

    @property
    def engine(self) -> Engine:
        engine: Engine = self._state()["engine"]
        return engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self._state()["sessionmaker"]()
        session: Session = g.db_session
        return session

    def new_session(self) -> Session:
        """A session outside the request's own one (workers, background loops)."""
        session: Session = self._state()["sessionmaker"]()
        return session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
