"""Evidence derivation cost per batch of 100 statements, from the derivation queue.

Setting: the DIPLOVIS référentiel (105 competencies), 300 learners on one Moodle,
100 mapping rules (80 exact quiz URLs, 20 prefixes), batches of 100 statements mixing
what real providers send: Moodle quiz completions (mapped), cmi5 AUs tagged with a
competency, H5P answers with an mbox actor, statements of learners not yet launched,
and launches without a result. Each batch is stored as the Statements resource does
(``prepare_statements``, then ``write_statements`` on a bare connection: statements,
index rows and one derivation queue row each, commit), then derived from the queue as the background
drainer and ``lti-tool worker`` do (``derivation.derive_queued`` on a session, then
commit; ``derivation.drain`` is these turns in a loop).

Prints, per backend, the median and 90th percentile of the derivation time (taking
the batch from the queue and deriving its evidence, receivers of ``evidence_changed``
muted), the SQL statements it issues, the storing of a batch (parse, store, commit),
the same derivation with the receivers (achievement recompute) and its SQL, a whole
drain turn (that derivation and its commit), and the evidence rows written.

    .venv/bin/python bench/evidence_bench.py                      # SQLite (temp file)
    .venv/bin/python bench/evidence_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/lti_tool_bench_evidence
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import migrate
from lti_tool.database import make_engine
from lti_tool.models import Competency, LtiUser
from referentiel.loading import load_document
from referentiel.lookup import competency_iri
from referentiel.sources import read_source
from xapi import derivation
from xapi.credentials import authority_agent, create_credential
from xapi.evidence import resolve_pending_for_users
from xapi.models import Evidence, MappingRule
from xapi.signals import evidence_changed
from xapi.statements_store import parse_body, prepare_statements, write_statements

BASE_URL = "https://competences.example.org"
MOODLE = "https://moodle.example.org"
LEARNERS = 300
BATCH = 100


def fresh_engine(url: str | None, workdir: Path) -> Engine:
    if url is None:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    elif url.startswith("postgresql"):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine


def setup(session: Session, rng: random.Random) -> tuple[list[str], list[str]]:
    """Référentiel, learners, rules; returns quiz URLs and competency IRIs."""
    load_document(session, read_source("diplovis-bgdc"))
    for n in range(LEARNERS):
        session.add(LtiUser(issuer=MOODLE, sub=str(1000 + n), email=f"learner{n}@example.org"))
    session.flush()
    competencies = list(session.scalars(select(Competency)))
    iris = [competency_iri(BASE_URL, c) for c in competencies]
    quizzes = [f"{MOODLE}/mod/quiz/view.php?id={200 + n}" for n in range(80)]
    for quiz in quizzes:
        session.add(
            MappingRule(
                activity_iri=quiz, is_prefix=False, competency_id=rng.choice(competencies).id
            )
        )
    for n in range(20):
        session.add(
            MappingRule(
                activity_iri=f"https://h5p.example.org/content/{n}/",
                is_prefix=True,
                competency_id=rng.choice(competencies).id,
            )
        )
    session.commit()
    # As their launches do: the learners' keys are known (mbox and sha1 included).
    resolve_pending_for_users(session, session.scalars(select(LtiUser.id)).all())
    session.commit()
    return quizzes, iris


def statement(rng: random.Random, quizzes: list[str], iris: list[str]) -> dict[str, Any]:
    learner = rng.randrange(LEARNERS + 50)  # some not launched yet
    account = {"homePage": MOODLE, "name": str(1000 + learner)}
    kind = rng.random()
    if kind < 0.45:
        return {
            "actor": {"account": account},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": rng.choice(quizzes)},
            "result": {"score": {"raw": 12, "min": 0, "max": 20, "scaled": 0.6}, "success": True},
            "context": {
                "contextActivities": {
                    "parent": [{"id": f"{MOODLE}/course/view.php?id=7"}],
                    "category": [{"id": MOODLE}],
                }
            },
        }
    if kind < 0.7:
        return {
            "actor": {"account": account},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": "https://content.example.org/cmi5/au-1"},
            "result": {"score": {"scaled": 0.8}, "success": True},
            "context": {
                "contextActivities": {
                    "parent": [
                        {
                            "id": rng.choice(iris),
                            "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
                        }
                    ]
                },
                "extensions": {"https://w3id.org/xapi/cmi5/context/extensions/masteryscore": 0.7},
            },
        }
    if kind < 0.9:
        return {
            "actor": {"mbox": f"mailto:learner{learner}@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"id": f"https://h5p.example.org/content/{rng.randrange(30)}/embed"},
            "result": {"score": {"raw": 3, "min": 0, "max": 4}, "completion": True},
        }
    return {
        "actor": {"account": account},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/launched"},
        "object": {"id": "https://content.example.org/cmi5/au-1"},
    }


def run(url: str | None, batches: int, seed: int) -> dict[str, Any]:
    """Batches alternate between derivation alone (``evidence_changed`` muted) and
    derivation with the receivers of ``evidence_changed`` (achievement recompute), so
    that the machine's load weighs on both alike."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as workdir:
        engine = fresh_engine(url, Path(workdir))
        sessions = sessionmaker(engine, expire_on_commit=False, info={"base_url": BASE_URL})
        with sessions() as session:
            quizzes, iris = setup(session, rng)
            credential = create_credential(session, "content provider").credential
            session.commit()
        authority = authority_agent(credential, BASE_URL)
        queries = 0

        def count(*_: Any) -> None:
            nonlocal queries
            queries += 1

        timings: dict[str, list[float]] = {
            "alone": [],
            "with_receivers": [],
            "store": [],
            "turn": [],
        }
        sql: dict[str, list[int]] = {"alone": [], "with_receivers": []}
        for n in range(2 * batches + 4):  # the first four warm caches up and are not counted
            mode = "alone" if n % 2 == 0 else "with_receivers"
            body = json.dumps([statement(rng, quizzes, iris) for _ in range(BATCH)])
            start = time.perf_counter()
            with engine.begin() as connection:
                items, _ = parse_body(body)
                write_statements(
                    connection,
                    prepare_statements(items, authority=authority, credential=credential),
                )
            stored = time.perf_counter()
            with sessions() as session:
                event.listen(engine, "before_cursor_execute", count)
                queries = 0
                derive_start = time.perf_counter()
                if mode == "alone":
                    with evidence_changed.muted():
                        taken = derivation.derive_queued(session, BATCH).taken
                else:
                    taken = derivation.derive_queued(session, BATCH).taken
                derive_end = time.perf_counter()
                event.remove(engine, "before_cursor_execute", count)
                session.commit()
                end = time.perf_counter()
            if taken != BATCH:
                raise RuntimeError(f"the queue gave {taken} rows, not the batch of {BATCH}")
            if n >= 4:
                timings[mode].append((derive_end - derive_start) * 1000)
                sql[mode].append(queries)
                if mode == "alone":
                    timings["store"].append((stored - start) * 1000)
                else:
                    timings["turn"].append((end - derive_start) * 1000)
        with sessions() as session:
            evidence = session.scalar(select(func.count()).select_from(Evidence)) or 0
            left = derivation.backlog(session).waiting
        engine.dispose()
    if left:
        raise RuntimeError(f"{left} statements left in the derivation queue")
    alone = timings["alone"]
    return {
        "backend": engine.dialect.name,
        "derive_median_ms": statistics.median(alone),
        "derive_p90_ms": statistics.quantiles(alone, n=10)[-1],
        "queries_median": statistics.median(sql["alone"]),
        "store_median_ms": statistics.median(timings["store"]),
        "with_receivers_median_ms": statistics.median(timings["with_receivers"]),
        "with_receivers_queries": statistics.median(sql["with_receivers"]),
        "turn_median_ms": statistics.median(timings["turn"]),
        "evidence_per_batch": evidence / (2 * batches + 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        action="append",
        default=None,
        help="PostgreSQL URL (its database is dropped and recreated); "
        "repeatable; SQLite always runs",
    )
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = [run(None, args.batches, args.seed)]
    for url in args.database_url or []:
        results.append(run(url, args.batches, args.seed))
    print(
        f"evidence derivation from the queue, batches of {BATCH} statements, {LEARNERS} "
        f"learners, 100 mapping rules, 105 competencies, {args.batches} batches per column "
        "(medians)"
    )
    print(
        f"{'backend':<12}{'derive':>10}{'p90':>10}{'stmt/s':>9}{'SQL':>6}{'store':>11}"
        f"{'+receivers':>12}{'SQL':>6}{'drain turn':>12}{'evidence/batch':>16}"
    )
    for r in results:
        print(
            f"{r['backend']:<12}{r['derive_median_ms']:>7.1f} ms{r['derive_p90_ms']:>7.1f} ms"
            f"{BATCH / r['derive_median_ms'] * 1000:>9.0f}{r['queries_median']:>6.0f}"
            f"{r['store_median_ms']:>8.1f} ms{r['with_receivers_median_ms']:>9.1f} ms"
            f"{r['with_receivers_queries']:>6.0f}{r['turn_median_ms']:>9.1f} ms"
            f"{r['evidence_per_batch']:>16.1f}"
        )
    print(
        "derive: derive_queued with evidence_changed muted (take the batch from the queue, "
        "derive its evidence); store: parse, prepare, write and commit, as a POST does "
        "once authenticated; "
        "+receivers: derive_queued with what listens to evidence_changed (achievement "
        "recompute); drain turn: that and its commit"
    )


if __name__ == "__main__":
    main()
