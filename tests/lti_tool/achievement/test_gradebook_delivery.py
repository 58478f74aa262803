"""Gradebook sync over AGS against a real loopback platform: payloads, failures, workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from achievement_world import World
from flask import Flask
from flask.testing import FlaskCliRunner
from lms.ags import SCOPE_LINEITEM, SCOPE_SCORE, AgsServer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lti_tool.achievement import outbox
from lti_tool.achievement.delivery import Worker
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.achievement.outbox import DeliverySettings
from lti_tool.cli import main
from lti_tool.database import db
from lti_tool.models.platform_token import PlatformAccessToken
from lti_tool.models.worker_heartbeat import WorkerHeartbeat
from referentiel.audit import AuditEvent
from referentiel.orm import utcnow
from tests.local_servers import free_port, wait_until_up

FAST = DeliverySettings(
    max_attempts=10, base_delay=0.01, max_delay=0.05, timeout=2.0, lease_seconds=30
)
LINEITEM = "https://moodle.test/mod/quiz/view.php?id="


def worker(app: Flask, settings: DeliverySettings = FAST, name: str = "w1") -> Worker:
    with app.app_context():
        sessions = app.extensions["database"]["sessionmaker"]
    return Worker(new_session=sessions, settings=settings, name=name, poll_seconds=0.05)


def rows(session: Session) -> list[ScoreOutbox]:
    session.expire_all()
    return list(session.scalars(select(ScoreOutbox).order_by(ScoreOutbox.id)))


def heartbeats(session: Session) -> list[WorkerHeartbeat]:
    session.expire_all()
    return list(session.scalars(select(WorkerHeartbeat)))


def bloc3_size(world: World) -> int:
    return len(world.bloc("bloc-3").competencies)


def test_exact_score_payload_on_a_line_item_created_by_tag_and_resource_id(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("Bloc 3 — Manager", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    assert worker(app).drain(max_wait=1) == 1
    [row] = rows(session)
    total = bloc3_size(lms_world)
    assert ags.state.accepted == [
        {
            "userId": "u1",
            "scoreGiven": round(100 / total, 4),
            "scoreMaximum": 100.0,
            "comment": f"1/{total} compétences acquises ou validées. Bloc 3 : 1/{total} (C1)",
            "timestamp": row.score_timestamp.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "activityProgress": "InProgress",
            "gradingProgress": "FullyGraded",
            "lineitem": 1,
        }
    ]
    assert ags.state.line_items[1] == {
        "id": f"{ags.url}/lineitems/1",
        "label": "Bloc 3 — Manager",
        "scoreMaximum": 100.0,
        "tag": "competences",
        "resourceId": "diplovis-bgdc/bloc-3",
        "resourceLinkId": "rl-Bloc 3 — Manager",
    }
    assert row.status == "delivered" and row.payload == {
        k: v for k, v in ags.state.accepted[0].items() if k != "lineitem"
    }
    assert ("GET", "/lineitems", 200) in ags.state.log  # looked before creating
    kinds = session.scalars(select(AuditEvent.kind)).all()
    assert "sync.delivered" in kinds


def test_access_token_is_cached_in_the_database_until_it_expires(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    lms_world.evidence("u1", "bloc-3/C2", score=0.9)
    session.commit()
    worker(app, name="w2").drain(max_wait=1)  # another worker, same token
    assert len(ags.state.accepted) == 2 and ags.state.token_requests == 1
    cached = session.scalars(select(PlatformAccessToken)).one()
    assert cached.scope == f"{SCOPE_LINEITEM} {SCOPE_SCORE}"
    cached.expires_at = utcnow() + timedelta(seconds=5)  # inside the safety margin
    session.commit()
    lms_world.evidence("u1", "bloc-3/C3", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    assert len(ags.state.accepted) == 3 and ags.state.token_requests == 2


def test_an_existing_line_item_is_found_across_pages_and_its_maximum_used(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    for n in range(5):
        ags.state.add_line_item(label=f"Quiz {n}", scoreMaximum=10, tag="competences")
    ags.state.add_line_item(
        label="Compétences bloc 3",
        scoreMaximum=20,
        tag="competences",
        resourceId="diplovis-bgdc/bloc-3",
        resourceLinkId="rl-b3",
    )
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    [score] = ags.state.accepted
    assert score["lineitem"] == 6 and score["scoreMaximum"] == 20.0
    assert score["scoreGiven"] == round(20 / bloc3_size(lms_world), 4)
    assert not [entry for entry in ags.state.log if entry[:2] == ("POST", "/lineitems")]


def test_the_launch_line_item_is_used_when_the_link_has_one(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    item = ags.state.add_line_item(label="Référentiel", scoreMaximum=10)
    lms_world.add_learner("u1")
    lms_world.add_link("all", None, lineitem_url=item["id"])
    lms_world.evidence("u1", "bloc-1/C1", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    [score] = ags.state.accepted
    # The whole référentiel: six mandatory blocs and one Bloc 7 track.
    total = sum(len(lms_world.bloc(f"bloc-{n}").competencies) for n in range(1, 7)) + len(
        lms_world.bloc("bloc-7a").competencies
    )
    assert score["scoreGiven"] == round(10 / total, 4) and score["scoreMaximum"] == 10.0
    assert score["comment"].startswith(f"1/{total} compétences acquises ou validées. Bloc 1 :")


def test_lms_down_then_back_every_latest_score_delivered_once_in_order(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    learners = ["u1", "u2", "u3"]
    lms_world.add_link("b3", "bloc-3")
    for sub in learners:
        lms_world.add_learner(sub)
        lms_world.evidence(sub, "bloc-3/C1", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    assert len(ags.state.accepted) == 3
    ags.stop()  # connection refused from now on
    for code in ("C2", "C3", "C4"):
        for sub in learners:
            lms_world.evidence(sub, f"bloc-3/{code}", score=0.9)
    session.commit()
    assert worker(app).step() == 3  # only the newest score of each learner is claimed
    pending = [r for r in rows(session) if r.status == "pending"]
    assert pending and all(r.attempts >= 1 and "could not reach" in r.last_error for r in pending)
    ags.start()
    ags.state.fail_next(4, status=503)
    worker(app, name="w2").drain(max_wait=2)
    total = bloc3_size(lms_world)
    for sub in learners:
        sent = ags.state.scores_for(sub)
        assert [s["scoreGiven"] for s in sent] == [round(100 / total, 4), round(400 / total, 4)]
        assert sent[0]["timestamp"] < sent[1]["timestamp"]
    statuses = [r.status for r in rows(session)]
    assert statuses.count("delivered") == 6 and statuses.count("superseded") == 6
    assert "dead" not in statuses and "pending" not in statuses
    assert not [entry for entry in ags.state.log if entry[2] == 409]  # nothing sent twice


def test_429_honours_retry_after(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    ags.state.fail_next(1, status=429, retry_after="120", paths="scores")
    before = utcnow()
    patient = DeliverySettings(max_attempts=10, base_delay=0.01, max_delay=600.0, timeout=2.0)
    worker(app, patient).step()  # Retry-After is honoured up to max_delay
    [row] = rows(session)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at >= before + timedelta(seconds=119)
    assert worker(app).drain(max_wait=1) == 0  # not due for two minutes
    session.execute(update(ScoreOutbox).values(next_attempt_at=utcnow()))
    session.commit()
    assert worker(app).drain(max_wait=1) == 1


def test_a_timeout_is_retried(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    ags.state.slow_next(1, seconds=1.5, paths="token")
    impatient = DeliverySettings(max_attempts=5, base_delay=0.01, max_delay=0.05, timeout=0.5)
    assert worker(app, impatient).drain(max_wait=1) == 1
    [row] = rows(session)
    assert row.status == "delivered" and row.attempts == 2


def test_dead_letter_after_the_last_attempt_then_admin_retry(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, runner: FlaskCliRunner
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    ags.state.fail_next(1000, status=503, paths="scores")
    three = DeliverySettings(max_attempts=3, base_delay=0.01, max_delay=0.02, timeout=2.0)
    worker(app, three).drain(max_wait=1)
    [row] = rows(session)
    assert (row.status, row.attempts) == ("dead", 3) and "answered 503" in row.last_error
    listed = runner.invoke(main, ["worker", "dead-letters"])
    assert listed.exit_code == 0 and f"#{row.id} " in listed.output
    assert listed.output.endswith("1 dead letter(s).\n")
    ags.state.faults.clear()
    retried = runner.invoke(main, ["worker", "retry", "--all"])
    assert retried.output == "Queued 1 score(s) again.\n"
    app.config.update(AGS_RETRY_BASE_SECONDS=0.01, AGS_RETRY_MAX_SECONDS=0.02)
    drained = runner.invoke(main, ["worker", "--once", "--max-wait", "1"])
    assert drained.output == (
        "Delivered 1 score(s); 0 still queued. 0 statement(s) wait for evidence, 0 set aside.\n"
    )
    assert len(ags.state.accepted) == 1
    kinds = session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)).all()
    assert [k for k in kinds if k.startswith("sync.")] == [
        "sync.dead",
        "sync.retried",
        "sync.delivered",
    ]


def test_a_refusal_is_dead_at_once_with_the_platforms_reason(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    ags.state.known_users = {"someone-else"}
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    worker(app).drain(max_wait=1)
    [row] = rows(session)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "answered 400" in row.last_error and "user not in the gradebook" in row.last_error
    assert [r.id for r in outbox.dead_letters(session, "https://moodle.test")] == [row.id]
    assert outbox.dead_letters(session, "https://other.test") == []


def test_retry_unknown_id_is_reported_and_fails(runner: FlaskCliRunner, world: World) -> None:
    result = runner.invoke(main, ["worker", "retry", "999"])
    assert result.exit_code == 1
    assert "Not dead letters (left alone): #999" in result.output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["999", "--all"], "not both"),
        (["999", "--platform", "https://moodle.test"], "--platform goes with --all"),
        (["99999999999999999999"], "is not in the range"),
    ],
)
def test_retry_refuses_what_it_would_ignore(
    runner: FlaskCliRunner, world: World, args: list[str], complaint: str
) -> None:
    result = runner.invoke(main, ["worker", "retry", *args])
    assert result.exit_code == 2 and complaint in result.output


def _cli_env(app: Flask, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")}
    env.update(
        LTI_TOOL_DATABASE_URL=app.config["DATABASE_URL"],
        LTI_TOOL_INSTANCE_PATH=str(tmp_path / "worker-instance"),
        LTI_TOOL_SECRET_KEY="worker-secret",
        LTI_TOOL_BASE_URL="http://tool.test",
        **extra,
    )
    return env


def _lti_tool() -> str:
    return str(Path(sys.executable).with_name("lti-tool"))


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _kill_a_worker_while_the_platform_holds_its_score(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, tmp_path: Path
) -> None:
    """One score queued; a worker process sends it, the platform holds the request, and
    the worker is killed (SIGKILL) while it waits for the answer."""
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    ags.state.stall_next(1, paths="scores")
    doomed = subprocess.Popen(
        [_lti_tool(), "worker", "--once", "--lease-seconds", "2"],
        env=_cli_env(app, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: ags.state.stalled == 1)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()


def test_a_worker_killed_mid_delivery_loses_nothing_and_sends_nothing_twice(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, tmp_path: Path
) -> None:
    _kill_a_worker_while_the_platform_holds_its_score(app, session, lms_world, ags, tmp_path)
    [row] = rows(session)
    assert row.status == "sending" and row.claimed_by  # claimed by the dead worker
    # The platform had received the request: it now stores the score.
    ags.state.release.set()
    _wait_for(lambda: len(ags.state.accepted) == 1)
    survivor = worker(app, name="survivor")
    survivor.drain(max_wait=5)  # waits for the dead worker's lease to expire
    [row] = rows(session)
    assert row.status == "superseded" and "409" in row.last_error
    assert len(ags.state.accepted) == 1  # once, not twice


def test_a_worker_killed_before_the_platform_stored_the_score_loses_nothing(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, tmp_path: Path
) -> None:
    _kill_a_worker_while_the_platform_holds_its_score(app, session, lms_world, ags, tmp_path)
    ags.state.drop_stalled = True  # the held request is lost, never stored
    ags.state.release.set()
    worker(app, name="survivor").drain(max_wait=5)
    [row] = rows(session)
    assert row.status == "delivered" and row.claimed_by == "survivor"
    assert len(ags.state.accepted) == 1


def test_the_long_running_worker_stops_cleanly_on_sigterm(
    app: Flask, session: Session, world: World, tmp_path: Path
) -> None:
    session.commit()  # the course exists; no transaction left open on the database
    with subprocess.Popen(
        [_lti_tool(), "worker"],
        env=_cli_env(app, tmp_path, LTI_TOOL_WORKER_POLL_SECONDS="0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as running:
        assert running.stdout is not None
        first = running.stdout.readline()
        assert first.startswith("Worker ") and "delivering scores" in first
        _wait_for(lambda: heartbeats(session) != [])  # it shows it is alive
        running.send_signal(signal.SIGTERM)
        rest, errors = running.communicate(timeout=60)
    assert running.returncode == 0, errors
    assert rest == "Worker stopped after delivering 0 score(s).\n"
    [heartbeat] = heartbeats(session)
    assert (
        heartbeat.mode == "worker"
        and first
        == f"Worker {heartbeat.name} deriving evidence and delivering scores (Ctrl-C to stop).\n"
    )


@contextmanager
def _serving(app: Flask, tmp_path: Path, *options: str) -> Iterator[subprocess.Popen[str]]:
    """`lti-tool serve` on a free port, answering, looking for scores to deliver every
    0.1 s; its output is read once it has stopped."""
    port = free_port()
    with subprocess.Popen(
        [_lti_tool(), "serve", "--port", str(port), *options],
        env=_cli_env(app, tmp_path, LTI_TOOL_WORKER_POLL_SECONDS="0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as serving:
        wait_until_up(f"http://127.0.0.1:{port}", serving)
        yield serving


def test_lti_tool_serve_delivers_scores_and_stops_cleanly_on_sigterm(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, tmp_path: Path
) -> None:
    """The zero-setup server is whole: a score queued while it runs reaches the
    gradebook with no `lti-tool worker` beside it."""
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    session.commit()
    with _serving(app, tmp_path) as serving:
        lms_world.evidence("u1", "bloc-3/C1", score=0.9)
        session.commit()
        _wait_for(lambda: len(ags.state.accepted) == 1)
        serving.send_signal(signal.SIGTERM)
        rest, errors = serving.communicate(timeout=60)
    assert serving.returncode == 0, errors
    assert rest.startswith("Serving on http://127.0.0.1:")
    assert rest.endswith("Gradebook scores: delivered by this server.\nStopped.\n")
    [row] = rows(session)
    assert row.status == "delivered" and ags.state.accepted[0]["userId"] == "u1"
    [heartbeat] = heartbeats(session)
    assert heartbeat.mode == "serve" and heartbeat.name == row.claimed_by


def test_serve_without_delivery_leaves_scores_to_a_worker(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, tmp_path: Path
) -> None:
    lms_world.add_learner("u1")
    lms_world.add_link("b3", "bloc-3")
    lms_world.evidence("u1", "bloc-3/C1", score=0.9)
    session.commit()
    with _serving(app, tmp_path, "--no-deliver") as serving:
        time.sleep(1.0)  # ten of a delivering server's polls
        serving.send_signal(signal.SIGTERM)
        rest, _errors = serving.communicate(timeout=60)
    assert serving.returncode == 0
    assert "Gradebook scores: left to `lti-tool worker` (--no-deliver).\n" in rest
    assert ags.state.accepted == [] and [r.status for r in rows(session)] == ["pending"]
    assert heartbeats(session) == []


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_never_send_the_same_score_twice(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    lms_world.add_link("b3", "bloc-3")
    learners = [f"p{n}" for n in range(40)]
    for sub in learners:
        lms_world.add_learner(sub)
        lms_world.evidence(sub, "bloc-3/C1", score=0.9)
        lms_world.evidence(sub, "bloc-3/C2", score=0.9)
    session.commit()
    ags.state.slow_next(30, seconds=0.02, paths="scores")  # keep both busy at once
    small = DeliverySettings(max_attempts=5, base_delay=0.01, max_delay=0.05, batch=3)
    workers = [worker(app, small, name=f"pg-{n}") for n in range(2)]
    threads = [threading.Thread(target=w.drain, args=(1.0,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(s["userId"] for s in ags.state.accepted) == sorted(learners)
    assert len(ags.state.line_items) == 1  # one gradebook column, though both raced for it
    assert not [entry for entry in ags.state.log if entry[2] == 409]
    statuses = session.execute(
        select(ScoreOutbox.status, func.count()).group_by(ScoreOutbox.status)
    ).all()
    assert dict(statuses) == {"delivered": 40, "superseded": 40}
    assert sum(w.delivered for w in workers) == 40
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
