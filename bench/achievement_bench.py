"""Recompute time for one new statement in a class of 300 learners with 100,000 evidence rows.

    .venv/bin/python bench/achievement_bench.py [--learners 300] [--evidence 100000] [--runs 50]

Builds a course on the built-in référentiel (a whole-référentiel link with AGS, so
every recompute also re-derives the bloc and queues the gradebook score), spreads the
evidence over the learners and competencies, computes every state once, then times
the transaction of one new piece of evidence: insert, ``evidence_changed`` (the
recompute of the touched pair, its bloc, the score outbox) and commit. Prints the
median and p95. LTI_TOOL_BENCH_DATABASE_URL may name a PostgreSQL database (emptied
first); by default a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from lti_tool import create_app, migrate
from lti_tool.achievement import recompute
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.database import db, make_engine
from lti_tool.models import CourseContext, LtiUser, Membership, ResourceLink
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
from referentiel.models import Bloc, Competency
from xapi.models import Evidence, Statement
from xapi.signals import evidence_changed

ISSUER = "https://moodle.bench"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def fresh_database(url: str | None, folder: Path) -> str:
    url = url or f"sqlite:///{folder / 'bench.sqlite3'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    engine.dispose()
    return url


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--evidence", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(os.environ.get("LTI_TOOL_BENCH_DATABASE_URL"), Path(folder))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
        with app.app_context():
            session = db.session
            framework = load_document(session, read_builtin("diplovis-bgdc")).framework
            course = CourseContext(
                issuer=ISSUER,
                deployment_id="1",
                context_id="bench",
                ags_lineitems_url="http://127.0.0.1:9/lineitems",
            )
            session.add(course)
            session.flush()
            session.add(
                ResourceLink(
                    context_id=course.id,
                    resource_link_id="all",
                    framework_key=framework.key,
                    bloc_key=None,
                )
            )
            learners = []
            for n in range(args.learners):
                user = LtiUser(issuer=ISSUER, sub=str(1000 + n))
                session.add(user)
                learners.append(user)
            session.flush()
            session.add_all(
                Membership(context_id=course.id, user_id=u.id, is_learner=True) for u in learners
            )
            competencies = list(
                session.scalars(
                    select(Competency.id).join(Bloc).where(Bloc.framework_id == framework.id)
                )
            )
            session.commit()
            started = time.perf_counter()
            batch_statements: list[dict[str, object]] = []
            batch_evidence: list[dict[str, object]] = []

            def flush_batches() -> None:
                if batch_statements:
                    session.execute(insert(Statement), batch_statements)
                    session.execute(insert(Evidence), batch_evidence)
                    batch_statements.clear()
                    batch_evidence.clear()

            for n in range(args.evidence):
                learner = learners[n % len(learners)]
                competency_id = rng.choice(competencies)
                when = T0 + timedelta(minutes=n)
                statement_id = str(uuid.uuid4())
                activity = f"https://moodle.bench/mod/quiz/view.php?id={rng.randint(1, 40)}"
                batch_statements.append(
                    {
                        "id": statement_id,
                        "raw": "{}",
                        "stored": when,
                        "timestamp": when,
                        "verb_id": "http://adlnet.gov/expapi/verbs/completed",
                        "object_id": activity,
                        "actor_key": f"{ISSUER}|{learner.sub}",
                        "voided": False,
                    }
                )
                batch_evidence.append(
                    {
                        "statement_id": statement_id,
                        "learner_id": learner.id,
                        "competency_id": competency_id,
                        "verb_id": "http://adlnet.gov/expapi/verbs/completed",
                        "source_activity": activity,
                        "score_scaled": round(rng.random(), 2),
                        "success": None,
                        "occurred_at": when,
                        "created_at": when,
                    }
                )
                if len(batch_statements) >= 5000:
                    flush_batches()
            flush_batches()
            session.commit()
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            recompute.recompute_learners(
                session, framework.id, [u.id for u in learners], cause="bench", actor="bench"
            )
            session.commit()
            full = time.perf_counter() - started
            evidence_rows = session.scalar(select(func.count()).select_from(Evidence))
            timings: list[float] = []
            for run in range(args.runs):
                learner = rng.choice(learners)
                competency_id = rng.choice(competencies)
                when = T0 + timedelta(days=400, minutes=run)
                statement_id = str(uuid.uuid4())
                begin = time.perf_counter()
                session.add(
                    Statement(
                        id=statement_id,
                        raw="{}",
                        stored=when,
                        timestamp=when,
                        verb_id="http://adlnet.gov/expapi/verbs/completed",
                        object_id="https://moodle.bench/mod/quiz/view.php?id=99",
                        actor_key=f"{ISSUER}|{learner.sub}",
                    )
                )
                session.flush()
                session.add(
                    Evidence(
                        statement_id=statement_id,
                        learner_id=learner.id,
                        competency_id=competency_id,
                        verb_id="http://adlnet.gov/expapi/verbs/completed",
                        source_activity="https://moodle.bench/mod/quiz/view.php?id=99",
                        score_scaled=round(rng.random(), 2),
                        occurred_at=when,
                    )
                )
                session.flush()
                evidence_changed.send(session, touched={(learner.id, competency_id)})
                session.commit()
                timings.append(time.perf_counter() - begin)
            queued = session.scalar(select(func.count()).select_from(ScoreOutbox))
            dialect = db.engine.dialect.name
        print(f"database: {dialect}; {args.learners} learners; {evidence_rows} evidence rows")
        print(f"loading the evidence: {loaded:.1f} s; computing every state once: {full:.1f} s")
        print(
            f"one new statement (insert + recompute + bloc + outbox + commit), {args.runs} runs: "
            f"median {statistics.median(timings) * 1000:.1f} ms, "
            f"p95 {percentile(timings, 0.95) * 1000:.1f} ms"
        )
        print(f"scores queued in the outbox: {queued}")


if __name__ == "__main__":
    main()
