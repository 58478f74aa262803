"""SQLite's hot writers (lti_tool.database.write_turn, checkpoint_wal): statement storage
and derivation rounds take turns on a lock that hands over at once, and the derivation
loop, not a request, copies the write-ahead log into the database."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from lti_tool.database import checkpoint_wal, make_engine, write_turn


def _hold_turn(database: str, held: object, release: object) -> None:
    """In another process: take the turn, say so, keep it until told."""
    engine = make_engine(f"sqlite:///{database}")
    with write_turn(engine):
        held.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]
        time.sleep(0.05)
    engine.dispose()


def test_a_writer_of_another_process_waits_for_the_turn_and_gets_it_once_released(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "w.sqlite3")
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_turn, args=(database, held, release))
    holder.start()
    try:
        assert held.wait(10)
        engine = make_engine(f"sqlite:///{database}")
        got: list[float] = []

        def take() -> None:
            with write_turn(engine):
                got.append(time.monotonic())

        taker = threading.Thread(target=take)
        taker.start()
        taker.join(0.2)
        assert got == []  # still waiting: the other process has the turn
        released_at = time.monotonic()
        release.set()
        taker.join(10)
        assert got and got[0] >= released_at
        engine.dispose()
    finally:
        release.set()
        holder.join(10)


def test_threads_of_one_process_take_turns_too(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    inside = 0
    most = 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(20):
            with write_turn(engine):
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == 1
    engine.dispose()


def test_writes_go_on_without_turns_when_the_lock_file_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only folder: the POST must not fail for want of its turn."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    real_open = os.open

    def refuse_lock_file(path: str, *args: int) -> int:
        if str(path).endswith("-writers"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", refuse_lock_file)
    for _ in range(2):
        with write_turn(engine), engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 2
    warnings = [r.getMessage() for r in caplog.records if "take turns" in r.getMessage()]
    assert len(warnings) == 1 and "Permission denied" in warnings[0]
    engine.dispose()


def test_a_thread_s_lock_file_descriptor_goes_with_the_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    descriptors = Path("/proc/self/fd")
    before = len(list(descriptors.iterdir()))
    for _ in range(20):
        thread = threading.Thread(target=_take_turn, args=(engine,))
        thread.start()
        thread.join(10)
    assert len(list(descriptors.iterdir())) <= before + 1
    engine.dispose()


def _take_turn(engine: Engine) -> None:
    with write_turn(engine):
        pass


def test_an_in_memory_database_needs_no_turn() -> None:
    engine = make_engine("sqlite://")
    with write_turn(engine), engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()


def test_a_checkpoint_copies_committed_writes_into_the_database_file(tmp_path: Path) -> None:
    database = tmp_path / "w.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT)"))
    checkpoint_wal(engine)
    before = database.stat().st_size
    with engine.begin() as connection:  # 200 pages: below SQLite's own checkpoint
        connection.execute(
            text("INSERT INTO t VALUES (:x)"), [{"x": "y" * 4000} for _ in range(200)]
        )
    assert database.stat().st_size == before  # committed, but only in the log

    checkpoint_wal(engine)

    assert database.stat().st_size >= before + 200 * 4000
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 200
    engine.dispose()
