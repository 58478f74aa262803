"""Scores delivered per second to a loopback AGS platform.

    .venv/bin/python bench/ags_delivery_bench.py [--scores 500] [--workers 1]

Queues one score per learner (N learners on a bloc link, one acquired competency
each, through the real recompute path), starts the test AGS platform of
tests/lms/ags.py on 127.0.0.1 (token endpoint checking the client assertion, line
items, Moodle's score rules), then lets ``--workers`` workers drain the outbox and
prints the throughput. Several workers need PostgreSQL: set
LTI_TOOL_BENCH_DATABASE_URL (emptied first); by default a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from achievement_bench import fresh_database
from lms.ags import AgsServer

from lti_tool import create_app
from lti_tool.achievement.delivery import Worker
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.achievement.outbox import DeliverySettings
from lti_tool.database import db
from lti_tool.keys import published_jwks, signing_key
from lti_tool.models import (
    CourseContext,
    Deployment,
    LtiUser,
    Membership,
    Platform,
    ResourceLink,
)
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
from xapi.models import Evidence, Statement
from xapi.signals import evidence_changed

ISSUER = "https://moodle.bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(os.environ.get("LTI_TOOL_BENCH_DATABASE_URL"), Path(folder))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
        jwks_engine = create_engine(url, poolclass=NullPool)

        def jwks() -> dict[str, Any]:
            with Session(jwks_engine) as session:
                return published_jwks(session)

        server = AgsServer(client_id="bench-client", jwks=jwks).start()
        with app.app_context():
            session = db.session
            framework = load_document(session, read_builtin("diplovis-bgdc")).framework
            signing_key(session)
            platform = Platform(
                issuer=ISSUER,
                client_id="bench-client",
                auth_login_url=f"{server.url}/auth",
                auth_token_url=server.state.token_url,
                key_set_url=f"{server.url}/certs",
            )
            course = CourseContext(
                issuer=ISSUER,
                deployment_id="1",
                context_id="bench",
                ags_lineitems_url=server.state.lineitems_url,
            )
            session.add_all([platform, course])
            session.flush()
            session.add(Deployment(platform_id=platform.id, deployment_id="1"))
            session.add(
                ResourceLink(
                    context_id=course.id,
                    resource_link_id="b1",
                    framework_key=framework.key,
                    bloc_key="bloc-1",
                )
            )
            competency = next(b for b in framework.blocs if b.key == "bloc-1").competencies[0]
            for n in range(args.scores):
                user = LtiUser(issuer=ISSUER, sub=str(5000 + n))
                session.add(user)
                session.flush()
                session.add(Membership(context_id=course.id, user_id=user.id, is_learner=True))
                statement = Statement(
                    id=f"00000000-0000-4000-8000-{n:012d}",
                    raw="{}",
                    stored=framework.loaded_at,
                    timestamp=framework.loaded_at,
                    verb_id="http://adlnet.gov/expapi/verbs/completed",
                    actor_key=f"{ISSUER}|{user.sub}",
                )
                session.add(statement)
                session.flush()
                session.add(
                    Evidence(
                        statement_id=statement.id,
                        learner_id=user.id,
                        competency_id=competency.id,
                        verb_id=statement.verb_id,
                        source_activity="https://moodle.bench/mod/quiz/view.php?id=1",
                        score_scaled=0.9,
                        occurred_at=framework.loaded_at,
                    )
                )
                session.flush()
                evidence_changed.send(session, touched={(user.id, competency.id)})
            session.commit()
            queued = session.scalar(select(func.count()).select_from(ScoreOutbox))
            sessions = app.extensions["database"]["sessionmaker"]
            dialect = db.engine.dialect.name
        settings = DeliverySettings(batch=10, base_delay=0.05, max_delay=0.5)
        workers = [
            Worker(new_session=sessions, settings=settings, name=f"bench-{n}")
            for n in range(args.workers)
        ]
        threads = [threading.Thread(target=w.drain, args=(2.0,)) for w in workers]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        delivered = sum(w.delivered for w in workers)
        server.stop()
        jwks_engine.dispose()
        print(f"database: {dialect}; {args.workers} worker(s); {queued} scores queued")
        print(
            f"delivered {delivered} in {elapsed:.2f} s: {delivered / elapsed:.0f} scores/s "
            f"(platform accepted {len(server.state.accepted)}, "
            f"token requests {server.state.token_requests})"
        )


if __name__ == "__main__":
    main()
