"""What ``lti-tool db backup`` costs on a store of N statements, beside a plain copy.

    .venv/bin/python bench/backup_bench.py [--statements 100000] [--repeat 3]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/lti_tool_bench_backup]

Fills a fresh database with Moodle quiz statements (as the Statements resource stores
them: ``prepare_statements`` then ``write_statements``, in batches of 100; derivation
left queued), then times the backup ``--repeat`` times and prints the median seconds,
the copy's size and its rate. The peer in the same run: on SQLite, a plain copy of the
database file (``shutil.copyfile``, which is not consistent while the tool writes); on
PostgreSQL, ``pg_dump --format=custom`` run directly, what the command wraps. Asserts
nothing; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lti_tool.backup import back_up
from xapi.credentials import authority_agent, create_credential
from xapi.statements_store import parse_body, prepare_statements, write_statements

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evidence_bench import fresh_engine
from xapi_ingest import moodle_statement


def fill(engine: Engine, statements: int) -> None:
    with engine.connect() as conn:
        with Session(bind=conn) as session:
            issued = create_credential(session, "bench", None)
            session.commit()
            authority = authority_agent(issued.credential, "https://competences.example.org")
            credential = issued.credential
        for start in range(0, statements, 100):
            body = json.dumps([moodle_statement(start + i) for i in range(100)])
            items, _ = parse_body(body)
            write_statements(
                conn, prepare_statements(items, authority=authority, credential=credential)
            )
            conn.commit()


def timed(action: Callable[[], None], repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure(url: str | None, statements: int, repeat: int) -> str:
    """One line of the table: ours and the peer on a database of ``statements``."""
    with tempfile.TemporaryDirectory(prefix="backup-bench-") as work:
        workdir = Path(work)
        engine = fresh_engine(url, workdir)
        fill(engine, statements)
        copies = iter(range(10_000))

        def ours() -> None:
            back_up(engine, workdir / f"ours-{next(copies)}")

        ours_s = timed(ours, repeat)
        size = (workdir / "ours-0").stat().st_size / 1e6
        if engine.dialect.name == "sqlite":
            source = str(engine.url.database)
            peer_name = "copy of the file"

            def peer() -> None:
                shutil.copyfile(source, workdir / f"peer-{next(copies)}")
        else:
            plain = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            peer_name = "pg_dump --format=custom"

            def peer() -> None:
                subprocess.run(
                    ["pg_dump", "--format=custom", "-f", str(workdir / "peer"), plain],
                    check=True,
                )

        peer_s = timed(peer, repeat)
        engine.dispose()
    return (
        f"{engine.dialect.name:<12}{ours_s:>9.2f}{size:>9.1f}{size / ours_s:>8.0f}"
        f"{peer_s:>9.2f}{ours_s / peer_s:>10.1f}×  {peer_name}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="also on this PostgreSQL database")
    args = parser.parse_args()
    print(f"lti-tool db backup, {args.statements:,} statements, median of {args.repeat}")
    print(f"{'backend':<12}{'ours s':>9}{'MB':>9}{'MB/s':>8}{'peer s':>9}{'ours/peer':>11}  peer")
    for url in [None, *([args.postgres] if args.postgres else [])]:
        print(measure(url, args.statements, args.repeat))


if __name__ == "__main__":
    main()
