"""Server time to render the trainer's class matrix, and SQL queries per page.

A course with N learners on the built-in référentiel (every competency of every
bloc), each learner with a stored state for every competency (as the achievement
layer leaves them) and a decided jury deliberation with two sign-offs on every bloc,
then GET /trainer/ and the jury's record (/trainer/jury.csv, /trainer/jury.xlsx)
through the Flask app (no network):

    .venv/bin/python bench/pages_bench.py [--learners 300] [--runs 20]

Prints the median and p95 time for N learners, and the number of SQL queries per
page for 30 and for N learners (it must not grow with the class).
LTI_TOOL_BENCH_DATABASE_URL may name a PostgreSQL database (emptied first);
by default a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text

from lti_tool import create_app, migrate
from lti_tool.access import LaunchContext, issue_launch_token
from lti_tool.achievement.models import CompetencyState, JuryDecision, JurySignoff
from lti_tool.database import db, make_engine
from lti_tool.models import CourseContext, LtiUser, Membership, ResourceLink
from referentiel.loading import load_document
from referentiel.models import Bloc, Competency
from referentiel.sources import read_source

STATES = ["non_acquis", "en_cours", "acquis", "valide"]


def _fresh_database(url: str | None, folder: Path) -> str:
    if url is None:
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _course(session: Any, learners: int, context_id: str) -> tuple[str, int, int, int]:
    """A course with ``learners`` learners and a state for each of them on every
    competency; returns (issuer, course id, link id, trainer id)."""
    issuer = "https://moodle.bench"
    course = CourseContext(issuer=issuer, deployment_id="1", context_id=context_id, title="Bench")
    session.add(course)
    session.flush()
    link = ResourceLink(
        context_id=course.id, resource_link_id=f"rl-{context_id}", framework_key="diplovis-bgdc"
    )
    trainer = LtiUser(issuer=issuer, sub=f"t-{context_id}", name="Trainer")
    session.add_all([link, trainer])
    session.flush()
    competencies = session.execute(
        select(Competency.id, Competency.bloc_id).where(Competency.retired_at.is_(None))
    ).all()
    rng = random.Random(42)
    for i in range(learners):
        user = LtiUser(issuer=issuer, sub=f"{context_id}-{i}", name=f"Learner {i:04d}")
        session.add(user)
        session.flush()
        session.add(Membership(context_id=course.id, user_id=user.id, is_learner=True))
        session.bulk_insert_mappings(
            CompetencyState,  # type: ignore[arg-type]
            [
                {
                    "learner_id": user.id,
                    "competency_id": cid,
                    "bloc_id": bid,
                    "state": (s := rng.choice(STATES)),
                    "state_source": "rule",
                    "computed_state": s,
                    "evidence_count": rng.randint(0, 5),
                    "conflicting": False,
                    "rule_version": 1,
                }
                for cid, bid in competencies
            ],
        )
        _deliberations(session, user.id)
    session.commit()
    return issuer, course.id, link.id, trainer.id


def _deliberations(session: Any, learner_id: int) -> None:
    """A decided deliberation on every bloc, signed by an internal and an external juror."""
    for bloc_id in session.scalars(select(Bloc.id)):
        decision = JuryDecision(
            learner_id=learner_id, bloc_id=bloc_id, status="decided", decision="validated"
        )
        session.add(decision)
        session.flush()
        decision.decided_at = decision.opened_at
        session.add_all(
            JurySignoff(
                jury_decision_id=decision.id,
                juror_id=juror,
                juror_name=juror.title(),
                external=external,
                decision="validated",
                signed_at=decision.opened_at,
            )
            for juror, external in (("ines", False), ("eric", True))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--small", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        os.environ["LTI_TOOL_INSTANCE_PATH"] = folder
        url = _fresh_database(os.environ.get("LTI_TOOL_BENCH_DATABASE_URL"), Path(folder))
        # No derivation thread: its polls of the queue would be counted as the page's.
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "LOG_LEVEL": "WARNING",
                "EVIDENCE_DERIVATION": "inline",
            }
        )
        with app.app_context():
            load_document(db.session, read_source("diplovis-bgdc"))
            db.session.commit()
            courses = {n: _course(db.session, n, f"c{n}") for n in (args.small, args.learners)}
            count = db.session.execute(text("SELECT count(*) FROM competency")).scalar()

        queries = 0

        def _count(*_: Any) -> None:
            nonlocal queries
            queries += 1

        event.listen(app.extensions["database"]["engine"], "before_cursor_execute", _count)
        client = app.test_client()
        print(f"database: {make_engine(url).dialect.name}; competencies: {count}")
        for path in ("/trainer/", "/trainer/jury.csv", "/trainer/jury.xlsx"):
            for n, (issuer, course_id, link_id, trainer_id) in courses.items():
                with app.test_request_context():
                    token = issue_launch_token(
                        LaunchContext(issuer, trainer_id, course_id, link_id, (), "instructor")
                    )
                queries = 0
                first = client.get(path, query_string={"lt": token})
                assert first.status_code == 200, first.status_code
                per_page = queries
                timings = []
                for _ in range(args.runs if n == args.learners else 3):
                    start = time.perf_counter()
                    client.get(path, query_string={"lt": token})
                    timings.append((time.perf_counter() - start) * 1000)
                timings.sort()
                p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
                print(
                    f"{path:<19}{n:>4} learners × {count} competencies: {per_page} SQL "
                    f"queries; median {statistics.median(timings):.0f} ms, p95 {p95:.0f} ms "
                    f"({len(timings)} runs, {len(first.data) // 1024} KiB)"
                )


if __name__ == "__main__":
    main()
