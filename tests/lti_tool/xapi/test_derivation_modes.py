"""Where queued statements become evidence: ``EVIDENCE_DERIVATION`` (lti_tool/evidence_drainer.py).

In ``worker`` and ``background`` modes the answer to a POST does not wait for
evidence, and evidence follows all the same: once per statement, voidings included,
nothing lost when a derivation fails, right counts when derivations run side by side.

The learners are those of the page world (tests/lti_tool/pages_world.py); their
statements are cmi5 AUs tagged with competency bloc-1/C3, on which nobody has evidence
yet.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from xapi_lrs_client import Lrs

from lti_tool import create_app
from lti_tool.achievement.jury import set_override
from lti_tool.achievement.models import CompetencyState
from lti_tool.achievement.rules import rules_in_force
from lti_tool.cli import main
from lti_tool.evidence_drainer import Drainer
from lti_tool.models import Competency, LtiUser
from referentiel.achievement import EvidenceItem, evaluate
from referentiel.audit import AuditEvent
from referentiel.orm import utcnow
from tests.lti_tool.pages_world import World
from tests.xapi.xapi_samples import cmi5_passed
from xapi import derivation, evidence
from xapi.models import DerivationQueue, Evidence
from xapi.value_lists import insert_rows

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def passed(learner: LtiUser, scaled: float = 0.9) -> dict[str, Any]:
    """A cmi5 AU passed by ``learner``, tagged with bloc-1/C3."""
    return cmi5_passed(learner.sub, "bloc-1/C3", scaled=scaled, site=learner.issuer)


def c3(world: World) -> Competency:
    return next(c for c in world.competencies if c.code == "C3")


@pytest.fixture
def worker_mode(app: Flask) -> None:
    """Web requests only queue: ``lti-tool worker`` derives."""
    app.config["EVIDENCE_DERIVATION"] = "worker"


def run_worker(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["worker", "--once", "--max-wait", "0"])
    assert result.exit_code == 0, result.output


def queued(session: Session) -> list[str]:
    return list(session.scalars(select(DerivationQueue.statement_id).order_by(DerivationQueue.id)))


def queue_again(session: Session, statement_id: str) -> None:
    insert_rows(session, derivation.QUEUE, derivation.queue_rows([statement_id]))


def evidence_of(session: Session, learner: LtiUser) -> list[tuple[str, int]]:
    """The learner's evidence: (statement id, competency id), sorted."""
    rows = session.execute(
        select(Evidence.statement_id, Evidence.competency_id).where(
            Evidence.learner_id == learner.id
        )
    )
    return sorted(rows.tuples())


def state_of(session: Session, learner: LtiUser, competency: Competency) -> CompetencyState | None:
    return session.scalar(
        select(CompetencyState)
        .where(
            CompetencyState.learner_id == learner.id,
            CompetencyState.competency_id == competency.id,
        )
        .execution_options(populate_existing=True)
    )


def audit_of(session: Session, kind: str, learner: LtiUser) -> list[dict[str, Any]]:
    return list(
        session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.kind == kind, AuditEvent.learner_id == learner.id)
            .order_by(AuditEvent.id)
        )
    )


@pytest.mark.usefixtures("worker_mode")
def test_worker_mode_answers_before_evidence_and_the_worker_derives_it(
    lrs: Lrs, runner: FlaskCliRunner, session: Session, world: World
) -> None:
    response = lrs.post(passed(world.bob))
    assert response.status_code == 200
    [ident] = response.json
    assert lrs.get(statementId=ident).status_code == 200
    assert evidence_of(session, world.bob) == []
    assert state_of(session, world.bob, c3(world)) is None
    assert queued(session) == [ident]

    run_worker(runner)

    assert evidence_of(session, world.bob) == [(ident, c3(world).id)]
    state = state_of(session, world.bob, c3(world))
    assert state is not None
    assert (state.computed_state, state.evidence_count) == ("acquis", 1)
    assert queued(session) == []


def test_a_state_kept_up_piece_by_piece_is_what_the_rules_make_of_the_whole_history(
    lrs: Lrs, session: Session, world: World
) -> None:
    """A later piece is added to the state's tally, an earlier one has the whole history
    read again: either way the state is the rules' verdict on all the evidence."""
    competency = c3(world)

    def at(minute: int, scaled: float, success: bool) -> dict[str, Any]:
        statement = passed(world.bob, scaled)
        statement["timestamp"] = f"2026-11-21T14:{minute:02d}:00Z"
        statement["result"]["success"] = success
        return statement

    for minute, scaled, success in [(10, 0.9, True), (20, 0.3, False), (30, 0.95, True)]:
        assert lrs.post(at(minute, scaled, success)).status_code == 200
    state = state_of(session, world.bob, competency)
    assert state is not None and state.tally is not None
    assert state.tally["count"] == state.evidence_count == 3
    assert lrs.post(at(5, 0.1, False)).status_code == 200  # before all the others
    assert lrs.post(at(40, 0.2, False)).status_code == 200  # after them

    setting, _version = rules_in_force(session, competency.bloc.framework_id)
    rule = setting.rule_for(competency.bloc.key, competency.code)
    history = [
        EvidenceItem(e.statement_id, e.source_activity, e.occurred_at, e.score_scaled, e.success)
        for e in session.scalars(
            select(Evidence).where(
                Evidence.learner_id == world.bob.id, Evidence.competency_id == competency.id
            )
        )
    ]
    whole = evaluate(rule, history, utcnow())
    state = state_of(session, world.bob, competency)
    assert state is not None and state.evidence_count == whole.evidence_count == 5
    assert (state.computed_state, state.score, state.conflicting) == (
        whole.state.value,
        whole.score,
        whole.conflicting,
    )
    assert state.conflicting  # the failure at 14:40 came after a success
    assert state.explanation["counted"] == whole.explanation()["counted"]
    assert whole.tally is not None and state.tally == whole.tally.to_json()


@pytest.mark.usefixtures("worker_mode")
def test_the_running_worker_derives_queued_statements_in_its_own_thread(
    app: Flask, lrs: Lrs, session: Session, world: World, tmp_path: Path
) -> None:
    [ident] = lrs.post(passed(world.bob)).json
    assert queued(session) == [ident]
    session.commit()  # no transaction left open on the database
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTI_TOOL_")} | {
        "LTI_TOOL_DATABASE_URL": app.config["DATABASE_URL"],
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "LTI_TOOL_SECRET_KEY": "worker-secret",
        "LTI_TOOL_BASE_URL": app.config["BASE_URL"],
        "LTI_TOOL_EVIDENCE_POLL_SECONDS": "0.05",
    }
    lti_tool = str(Path(sys.executable).with_name("lti-tool"))
    with subprocess.Popen(
        [lti_tool, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as running:
        deadline = time.monotonic() + 30
        while not evidence_of(session, world.bob) and time.monotonic() < deadline:
            session.rollback()  # see what the worker committed
            time.sleep(0.05)
        running.send_signal(signal.SIGTERM)
        _out, errors = running.communicate(timeout=60)
    assert running.returncode == 0, errors
    assert evidence_of(session, world.bob) == [(ident, c3(world).id)]
    assert queued(session) == []


@pytest.mark.usefixtures("worker_mode")
def test_a_single_writer_loop_derives_in_its_turn_and_then_checkpoints(
    app: Flask, lrs: Lrs, session: Session, world: World
) -> None:
    """On SQLite the loop holds the writers' turn around each round's transaction and
    copies the write-ahead log into the database after the round, not a request."""
    [ident] = lrs.post(passed(world.bob)).json
    session.commit()
    steps: list[str] = []

    @contextmanager
    def turn() -> Iterator[None]:
        steps.append("turn taken")
        yield
        steps.append("turn left")

    loop = Drainer(
        app.extensions["database"]["sessionmaker"],
        0.01,
        0.01,
        0.01,
        round_rows=250,
        single_writer=True,
        turn=turn,
        checkpoint=lambda: steps.append("checkpoint"),
    )
    thread = loop.start_thread()
    try:
        deadline = time.monotonic() + 10
        while "checkpoint" not in steps and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        loop.stop.set()
        thread.join(10)
    assert steps[:3] == ["turn taken", "turn left", "checkpoint"]
    session.rollback()
    assert evidence_of(session, world.bob) == [(ident, c3(world).id)]


def test_background_mode_derives_in_a_thread_of_the_web_process(
    app: Flask, credential: tuple[str, str], session: Session, world: World
) -> None:
    background = create_app(
        {key: app.config[key] for key in ("TESTING", "DATABASE_URL", "BASE_URL", "SECRET_KEY")}
        | {
            "EVIDENCE_DERIVATION": "background",
            "EVIDENCE_DELAY_SECONDS": 0.01,
            # Only the wake-up after storing may drain: the thread outlives the test,
            # and must not poll the database that later tests reuse (PostgreSQL).
            "EVIDENCE_POLL_SECONDS": 3600,
        }
    )
    try:
        response = Lrs(background.test_client(), *credential).post(passed(world.bob))
        assert response.status_code == 200
        [ident] = response.json
        deadline = time.monotonic() + 10
        while not evidence_of(session, world.bob) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert evidence_of(session, world.bob) == [(ident, c3(world).id)]
        state = state_of(session, world.bob, c3(world))
        assert state is not None and state.evidence_count == 1
        assert queued(session) == []
    finally:
        background.extensions["database"]["engine"].dispose()


@pytest.mark.usefixtures("worker_mode")
def test_a_derivation_rolled_back_leaves_its_statements_queued(
    lrs: Lrs, session: Session, world: World
) -> None:
    ids = lrs.post([passed(world.bob), passed(world.bob, 0.5)]).json

    run = derivation.derive_queued(session)
    assert (run.taken, run.change.added) == (2, 2)  # derived, but never committed:
    session.rollback()  # a crash, a failed commit, an error in achievement

    assert queued(session) == ids
    assert evidence_of(session, world.bob) == []
    assert state_of(session, world.bob, c3(world)) is None
    assert derivation.drain(session).taken == 2
    assert evidence_of(session, world.bob) == sorted((i, c3(world).id) for i in ids)
    assert queued(session) == []


def test_a_derivation_failing_in_the_request_keeps_the_statement_and_its_queue_row(
    lrs: Lrs, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug in derivation")

    monkeypatch.setattr(derivation, "rederive", fail)  # inline mode: in the request
    response = lrs.post(passed(world.bob))
    assert response.status_code == 200
    [ident] = response.json
    assert lrs.get(statementId=ident).status_code == 200
    assert queued(session) == [ident]
    assert evidence_of(session, world.bob) == []

    [(failed_id, _, why)] = derivation.failures(session)  # set aside, with the reason
    assert failed_id == ident and why == "RuntimeError: a bug in derivation"
    assert derivation.drain(session).taken == 0  # and left alone until retried

    monkeypatch.undo()
    assert derivation.retry_failed(session) == 1
    session.commit()
    derivation.drain(session)
    assert evidence_of(session, world.bob) == [(ident, c3(world).id)]
    assert queued(session) == []


@pytest.mark.usefixtures("worker_mode")
def test_a_statement_that_cannot_be_derived_is_set_aside_and_holds_back_no_other(
    lrs: Lrs,
    runner: FlaskCliRunner,
    session: Session,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poison = "https://example.org/extensions/unforeseen"
    bad = passed(world.alice)
    bad["result"]["extensions"] = {poison: True}
    good_bob, bad_id, good_alice = lrs.post([passed(world.bob), bad, passed(world.alice)]).json
    real = evidence.outcome_of

    def outcome(statement: Any) -> Any:
        if poison in statement.get("result", {}).get("extensions", {}):
            raise ValueError("data the code did not foresee")
        return real(statement)

    monkeypatch.setattr(evidence, "outcome_of", outcome)
    run_worker(runner)

    on_c3 = c3(world).id
    assert evidence_of(session, world.bob) == [(good_bob, on_c3)]
    assert [e for e in evidence_of(session, world.alice) if e[1] == on_c3] == [(good_alice, on_c3)]
    [(failed_id, _, why)] = derivation.failures(session)
    assert (failed_id, why) == (bad_id, "ValueError: data the code did not foresee")
    report = runner.invoke(main, ["evidence", "queue"])
    assert f"Set aside: statement {bad_id} at " in report.output
    assert report.output.startswith("No statement waits for its evidence.")

    monkeypatch.undo()  # the fix is deployed
    retried = runner.invoke(main, ["evidence", "queue", "--retry", "--drain"])
    assert retried.output.splitlines()[:2] == [
        "Queued 1 statement(s) again.",
        "Derived 1 statement(s): 1 evidence added, 0 withdrawn.",
    ]
    assert (bad_id, on_c3) in evidence_of(session, world.alice)
    assert derivation.failures(session) == []


@pytest.mark.usefixtures("worker_mode")
def test_a_statement_queued_again_gives_its_evidence_once(
    lrs: Lrs, session: Session, world: World
) -> None:
    [ident] = lrs.post(passed(world.bob)).json
    queue_again(session, ident)  # twice before the first derivation
    session.commit()
    assert derivation.drain(session).taken == 2
    queue_again(session, ident)  # and again once derived
    session.commit()
    assert derivation.drain(session).taken == 1

    assert evidence_of(session, world.bob) == [(ident, c3(world).id)]
    assert audit_of(session, "evidence.added", world.bob) == [
        {"statement_id": ident, "verb": "http://adlnet.gov/expapi/verbs/passed"}
    ]
    assert audit_of(session, "evidence.withdrawn", world.bob) == []
    state = state_of(session, world.bob, c3(world))
    assert state is not None and state.evidence_count == 1


@pytest.mark.usefixtures("worker_mode")
def test_the_drainer_sees_the_span_of_waiting_rows_without_those_set_aside(
    lrs: Lrs, session: Session, world: World
) -> None:
    """What tells the loop how many wait (a round's worth: derive at once)."""
    assert derivation.queued_span(session) is None
    lrs.post([passed(world.bob), passed(world.alice), passed(world.bob)])
    ids = list(session.scalars(select(DerivationQueue.id).order_by(DerivationQueue.id)))
    assert len(ids) == 3
    assert derivation.queued_span(session) == (ids[0], ids[2])
    session.execute(
        derivation.QUEUE.update()
        .where(DerivationQueue.id == ids[0])
        .values(failed_at=utcnow(), last_error="set aside")
    )
    assert derivation.queued_span(session) == (ids[1], ids[2])
    assert derivation.drain(session).taken == 2
    assert derivation.queued_span(session) is None  # the one set aside waits for --retry


@pytest.mark.usefixtures("worker_mode")
def test_voiding_withdraws_the_evidence_when_the_worker_derives_it(
    lrs: Lrs, runner: FlaskCliRunner, session: Session, world: World
) -> None:
    [target] = lrs.post(passed(world.bob)).json
    run_worker(runner)
    assert evidence_of(session, world.bob) == [(target, c3(world).id)]

    voiding = {
        "actor": {"mbox": "mailto:teacher@example.org"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": target},
    }
    assert lrs.post(voiding).status_code == 200
    assert lrs.get(statementId=target).status_code == 404  # voided in the LRS at once
    assert evidence_of(session, world.bob) == [(target, c3(world).id)]  # until derived

    run_worker(runner)

    assert evidence_of(session, world.bob) == []
    assert audit_of(session, "evidence.withdrawn", world.bob) == [
        {"statement_id": target, "reason": "voided"}
    ]
    state = state_of(session, world.bob, c3(world))
    assert state is not None
    assert (state.computed_state, state.evidence_count) == ("non_acquis", 0)
    assert queued(session) == []


@pytest.mark.postgres_only
@pytest.mark.usefixtures("worker_mode")
def test_concurrent_drains_derive_each_statement_once_and_count_it_once(
    app: Flask, lrs: Lrs, session: Session, world: World
) -> None:
    """Two processes drain at once (the drainers of two web processes, or one and the
    worker): they take turns, and each statement counts once."""
    learners = [world.alice, world.bob, world.zoe]  # Zoé on the other platform
    batch = [passed(learners[n % 3], scaled=0.5 + n % 5 / 10) for n in range(300)]
    ids = lrs.post(batch).json
    assert len(queued(session)) == 300
    session.commit()
    new_session = app.extensions["database"]["sessionmaker"]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            with new_session() as own:
                start.wait()
                derivation.drain(own, limit=10)  # many turns each
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = session.execute(
        select(Evidence.statement_id, Evidence.learner_id).where(
            Evidence.competency_id == c3(world).id
        )
    ).all()
    assert sorted(statement for statement, _ in rows) == sorted(ids)
    counts = {
        learner: count
        for learner, count in session.execute(
            select(CompetencyState.learner_id, CompetencyState.evidence_count).where(
                CompetencyState.competency_id == c3(world).id
            )
        )
    }
    assert counts == Counter(learner for _, learner in rows)
    assert counts == {learner.id: 100 for learner in learners}
    assert queued(session) == []


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Until ``condition`` holds, or ``seconds`` have passed (the test then fails on what
    it asserts next)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def waits_for_a_lock(session: Session, pids: list[int]) -> bool:
    """Whether the backend whose pid is in ``pids`` (once it is) waits for a lock."""
    waiting = session.scalar(
        text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
        {"pid": pids[0] if pids else 0},
    )
    return bool(waiting)


@pytest.mark.postgres_only
@pytest.mark.usefixtures("worker_mode")
def test_a_trainer_override_during_a_derivation_waits_for_it_and_counts_its_evidence(
    app: Flask, lrs: Lrs, session: Session, world: World
) -> None:
    """What the advisory lock is for: a recomputation outside the queue (a trainer's
    override, a jury, new rules) that starts while a derivation is not committed waits
    for it, rather than computing the state from evidence it cannot see (and failing
    on the state row the derivation is creating)."""
    lrs.post([passed(world.bob) for _ in range(3)])
    session.commit()
    new_session = app.extensions["database"]["sessionmaker"]
    trainer_pid: list[int] = []
    errors: list[BaseException] = []

    def override() -> None:
        try:
            with new_session() as trainer:
                trainer_pid.append(trainer.scalar(text("SELECT pg_backend_pid()")))
                set_override(
                    trainer,
                    learner_id=world.bob.id,
                    competency=c3(world),
                    state="en_cours",
                    reason="oral still to come",
                    actor="tom",
                )
                trainer.commit()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=override)
    with new_session() as deriving:
        derivation.derive_queued(deriving)  # Bob's evidence and state, not committed yet
        thread.start()
        # Commit only once the override's recomputation waits on the derivation: it
        # must then count the evidence it could not see yet.
        wait_until(lambda: waits_for_a_lock(session, trainer_pid))
        deriving.commit()
    thread.join()

    assert errors == []
    state = state_of(session, world.bob, c3(world))
    assert state is not None
    assert (state.state, state.state_source, state.computed_state, state.evidence_count) == (
        "en_cours",
        "override",
        "acquis",
        3,
    )


def first_launch(new_session: Any, issuer: str, pids: list[int]) -> Any:
    """A learner's first launch as ``launch_records`` records it: the user, then the
    statements that already name them (with the lock of every evidence change)."""

    def launch(
        resolved: threading.Event | None = None, commit: threading.Event | None = None
    ) -> None:
        with new_session() as launching:
            pids.append(launching.scalar(text("SELECT pg_backend_pid()")))
            user = LtiUser(issuer=issuer, sub="newcomer", name="Nina Newcomer")
            launching.add(user)
            launching.flush()
            evidence.resolve_pending_for_user(launching, user.id)
            if resolved is not None and commit is not None:
                resolved.set()  # holding the evidence lock, uncommitted
                commit.wait(10)
            launching.commit()

    return launch


def newcomer_evidence(session: Session) -> list[tuple[str, int]]:
    session.rollback()
    rows = session.execute(
        select(Evidence.statement_id, Evidence.competency_id)
        .join(LtiUser, LtiUser.id == Evidence.learner_id)
        .where(LtiUser.sub == "newcomer")
    )
    return sorted((statement_id, competency_id) for statement_id, competency_id in rows)


@pytest.mark.postgres_only
@pytest.mark.usefixtures("worker_mode")
@pytest.mark.parametrize("first", ["derivation", "launch"])
def test_a_first_launch_racing_a_derivation_gets_its_evidence_once(
    first: str, app: Flask, lrs: Lrs, session: Session, world: World
) -> None:
    """A statement stored before its learner ever launched, derived while that learner's
    first launch is recorded: whichever takes the evidence lock first, the other waits,
    and the statement becomes evidence exactly once."""
    issuer = world.bob.issuer
    [ident] = lrs.post(cmi5_passed("newcomer", "bloc-1/C3", scaled=0.9, site=issuer)).json
    session.commit()
    new_session = app.extensions["database"]["sessionmaker"]
    pids: list[int] = []
    launch = first_launch(new_session, issuer, pids)
    if first == "derivation":
        thread = threading.Thread(target=launch)
        with new_session() as deriving:
            assert derivation.derive_queued(deriving).taken == 1  # nobody to credit yet
            thread.start()
            wait_until(lambda: waits_for_a_lock(session, pids))
            deriving.commit()
        thread.join()
    else:
        resolved, go = threading.Event(), threading.Event()
        thread = threading.Thread(target=launch, args=(resolved, go))
        thread.start()  # records the user and derives the statement, uncommitted
        assert resolved.wait(10)
        deriving_pid: list[int] = []

        def derive() -> None:
            with new_session() as deriving:
                deriving_pid.append(deriving.scalar(text("SELECT pg_backend_pid()")))
                derivation.derive_queued(deriving)
                deriving.commit()

        other = threading.Thread(target=derive)
        other.start()
        wait_until(lambda: waits_for_a_lock(session, deriving_pid))
        go.set()
        thread.join()
        other.join()
    assert newcomer_evidence(session) == [(ident, c3(world).id)]
    assert queued(session) == []
