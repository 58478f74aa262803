"""Times the référentiel's load and exports; prints medians and p95 (no assertions).

    .venv/bin/python bench/referentiel_bench.py [-n 30] [--database-url URL]

Without --database-url it uses a throwaway SQLite file. Measured: a fresh load of the
built-in DIPLOVIS référentiel (parse + schema validation + insert + commit), a reload of
the same version (unchanged), a reload of a revision (one text changed), the Moodle CSV
export and the CASE 1.0 package export (from the database, as the CLI and HTTP do).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lti_tool import migrate  # noqa: E402
from lti_tool.database import make_engine  # noqa: E402
from referentiel.audit import AuditEvent  # noqa: E402
from referentiel.data_file import parse_data, read_builtin  # noqa: E402
from referentiel.document import FrameworkDocument  # noqa: E402
from referentiel.exports import export_framework  # noqa: E402
from referentiel.loading import find_framework, load_document  # noqa: E402
from referentiel.models import Framework  # noqa: E402

BASE = "https://tool.example"


def measure(
    label: str, runs: int, action: Callable[[], object], setup: Callable[[], object] | None = None
) -> None:
    """Run ``action`` ``runs`` times (``setup`` before each, not timed); print median and p95."""
    timings = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    print(f"{label:<36} median {statistics.median(timings):8.2f} ms   p95 {p95:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30)
    parser.add_argument("--database-url", help="an existing, disposable database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        print(f"{args.runs} runs on {engine.dialect.name}")
        doc = read_builtin("diplovis-bgdc")

        def clear() -> None:
            with Session(engine) as session:
                session.execute(delete(Framework))
                session.execute(delete(AuditEvent))
                session.commit()

        def load(document: FrameworkDocument) -> None:
            with Session(engine) as session:
                load_document(session, document)
                session.commit()

        measure("read + validate the data file", args.runs, lambda: read_builtin("diplovis-bgdc"))
        measure("load, fresh (105 competencies)", args.runs, lambda: load(doc), setup=clear)
        measure("load again, unchanged", args.runs, lambda: load(doc))

        original = doc.to_data()
        revisions = []
        for i in range(args.runs):
            data = copy.deepcopy(original)
            data["blocs"][0]["competencies"][0]["text"] += f" (révision {i})"
            revisions.append(parse_data(data, source="revision"))
        queue = iter(revisions)
        measure("load a revision (1 text changed)", args.runs, lambda: load(next(queue)))

        def export(fmt: str) -> Callable[[], object]:
            def run() -> object:
                with Session(engine) as session:
                    framework = find_framework(session, "diplovis-bgdc")
                    assert framework is not None
                    return export_framework(framework, fmt, base_url=BASE)

            return run

        measure("export moodle-csv (from the db)", args.runs, export("moodle-csv"))
        measure("export case-json (from the db)", args.runs, export("case-json"))
        engine.dispose()


if __name__ == "__main__":
    main()
