"""``lti-tool status``: what an operator or a monitor learns in one command, and its exit."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text, update

from lti_tool import create_app
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.cli import main
from lti_tool.database import db
from lti_tool.keys import signing_key
from lti_tool.migrate import revisions
from lti_tool.models.worker_heartbeat import WorkerHeartbeat
from referentiel.orm import utcnow
from tests.lti_tool.pages_world import World
from xapi.credentials import authority_agent, create_credential
from xapi.models import DerivationQueue
from xapi.statements_store import parse_body, prepare_statements, write_statements


def checks(runner: FlaskCliRunner) -> tuple[int, dict[str, dict[str, Any]]]:
    result = runner.invoke(main, ["status", "--json"])
    return result.exit_code, {c["check"]: c for c in json.loads(result.output)}


def queue_a_statement(app: Flask, queued_ago: timedelta) -> None:
    """A statement stored and queued ``queued_ago``, that nothing derived since."""
    with app.app_context():
        issued = create_credential(db.session, "provider", None)
        db.session.flush()
        items, _ = parse_body(
            json.dumps(
                {
                    "actor": {"mbox": "mailto:a@example.org"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
                    "object": {"id": "https://content.example.org/au-1"},
                }
            )
        )
        prepared = prepare_statements(
            items,
            authority=authority_agent(issued.credential, "http://tool.test"),
            credential=issued.credential,
        )
        write_statements(db.session, prepared)
        db.session.execute(update(DerivationQueue).values(queued_at=utcnow() - queued_ago))
        db.session.commit()


def score_row(app: Flask, world: World, status: str, due_ago: timedelta) -> None:
    with app.app_context():
        db.session.add(
            ScoreOutbox(
                resource_link_id=world.link_a.id,
                learner_id=world.alice.id,
                share=0.5,
                activity_progress="InProgress",
                grading_progress="FullyGraded",
                score_timestamp=utcnow(),
                cause="evidence",
                status=status,
                next_attempt_at=utcnow() - due_ago,
            )
        )
        db.session.commit()


def test_a_running_installation_is_all_ok_and_exits_0(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    with app.app_context():
        kid = signing_key(db.session).kid
        db.session.commit()

    code, found = checks(runner)

    assert code == 0
    assert all(check["ok"] for check in found.values())
    assert found["schema"]["seen"].endswith("(newest)")
    assert found["referentiels"]["seen"] == "diplovis-bgdc"
    assert found["platforms"]["seen"] == "2 active, 0 waiting for activation"
    assert found["evidence derivation"]["seen"] == "0 statement(s) waiting, 0 set aside"
    assert found["signing keys"]["seen"] == f"1 published, signing with {kid} (0 days old)"
    assert found["workers"]["seen"] == "none has run yet: gradebook scores wait until one does"


def test_a_fresh_installation_says_what_to_load_and_exits_1(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["status"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[1].startswith("!!  referentiels") and lines[1].endswith("none loaded")
    assert lines[2].strip() == "→ lti-tool referentiel load diplovis-bgdc"
    assert lines[0].startswith("ok  schema")


def test_a_database_without_the_newest_schema_is_the_only_check(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
            "SECRET_KEY": "k",
        }
    )

    code, found = checks(app.test_cli_runner())

    assert code == 1
    assert list(found) == ["schema"]
    [newest] = revisions(app.extensions["database"]["engine"])[1]
    assert found["schema"]["seen"].endswith(
        f"at no schema; this version of the tool needs {newest}"
    )
    assert found["schema"]["todo"] == "lti-tool db upgrade"


def test_statements_waiting_longer_than_five_minutes_mean_nothing_derives(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    queue_a_statement(app, timedelta(seconds=30))
    code, found = checks(runner)
    assert code == 0 and found["evidence derivation"]["ok"]

    queue_a_statement(app, timedelta(minutes=12))
    code, found = checks(runner)

    assert code == 1
    derivation = found["evidence derivation"]
    assert derivation["seen"] == (
        "2 statement(s) waiting, 0 set aside; the oldest has waited 12 min"
    )
    assert "lti-tool worker" in derivation["todo"]


def test_statements_set_aside_need_attention(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    queue_a_statement(app, timedelta(seconds=1))
    with app.app_context():
        db.session.execute(update(DerivationQueue).values(failed_at=utcnow(), last_error="boom"))
        db.session.commit()

    code, found = checks(runner)

    assert code == 1
    assert found["evidence derivation"]["seen"] == "0 statement(s) waiting, 1 set aside"
    assert found["evidence derivation"]["todo"].startswith("lti-tool evidence queue")


def test_scores_overdue_or_undeliverable_need_attention(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    score_row(app, world, "pending", timedelta(seconds=10))  # being retried: normal
    assert checks(runner)[0] == 0

    score_row(app, world, "pending", timedelta(minutes=20))
    code, found = checks(runner)
    assert code == 1
    assert found["gradebook delivery"]["seen"].endswith("; 1 due for more than 5 min")
    assert found["gradebook delivery"]["todo"] == "start `lti-tool worker`"

    with app.app_context():
        db.session.execute(update(ScoreOutbox).values(status="dead"))
        db.session.commit()
    code, found = checks(runner)
    assert code == 1
    assert found["gradebook delivery"]["seen"] == "0 delivered, 0 pending, 2 undeliverable"
    assert "lti-tool worker retry --all" in found["gradebook delivery"]["todo"]


def test_a_redis_password_is_never_printed(app: Flask, world: World) -> None:
    app.config["RATE_LIMIT_STORAGE_URL"] = "redis://:s3cret@127.0.0.1:6379"

    result = app.test_cli_runner().invoke(main, ["status"])

    assert "s3cret" not in result.output
    assert "rate limits" in result.output and "shared (redis://)" in result.output


def worker_seen(app: Flask, name: str, mode: str, ago: timedelta) -> None:
    with app.app_context():
        seen = utcnow() - ago
        db.session.add(WorkerHeartbeat(name=name, mode=mode, started_at=seen, seen_at=seen))
        db.session.commit()


def test_a_worker_seen_lately_is_named_and_one_silent_for_long_needs_attention(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    worker_seen(app, "host-a:41:7", "worker --once", timedelta(minutes=40))
    code, found = checks(runner)
    assert code == 1
    assert found["workers"]["seen"] == (
        "none seen for 40 min: the last, host-a:41:7 (worker --once), at "
        f"{utcnow() - timedelta(minutes=40):%Y-%m-%d %H:%M} UTC"
    )
    assert "lti-tool worker" in found["workers"]["todo"]

    worker_seen(app, "host-b:52:9", "worker", timedelta(seconds=12))
    code, found = checks(runner)
    assert code == 0 and found["workers"]["ok"]
    assert found["workers"]["seen"].startswith("1 seen in the last 15 min, the latest 1")
    assert found["workers"]["seen"].endswith(" s ago: host-b:52:9 (worker)")


def test_runs_from_cron_are_counted_beyond_the_latest_three(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    for minute in range(1, 11):
        worker_seen(app, f"host-a:{minute}:1", "worker --once", timedelta(minutes=minute))

    code, found = checks(runner)

    assert code == 0
    assert found["workers"]["seen"].startswith("10 seen in the last 15 min, the latest 6")
    assert found["workers"]["seen"].endswith(
        ": host-a:1:1 (worker --once), host-a:2:1 (worker --once), host-a:3:1 (worker --once)"
        " and 7 more"
    )


def test_worker_once_shows_it_ran(app: Flask, runner: FlaskCliRunner, world: World) -> None:
    assert runner.invoke(main, ["worker", "--once"]).exit_code == 0

    code, found = checks(runner)

    assert code == 0
    assert found["workers"]["seen"].startswith("1 seen in the last 15 min")
    assert found["workers"]["seen"].endswith(" (worker --once)")


def test_a_beating_worker_forgets_workers_silent_for_a_day_but_not_its_own_past(
    app: Flask, runner: FlaskCliRunner, world: World
) -> None:
    worker_seen(app, "gone:1:1", "worker", timedelta(days=3))
    code, found = checks(runner)
    assert code == 1 and "none seen for 3 days: the last, gone:1:1" in found["workers"]["seen"]

    assert runner.invoke(main, ["worker", "--once"]).exit_code == 0

    with app.app_context():
        modes = db.session.scalars(select(WorkerHeartbeat.mode)).all()
    assert modes == ["worker --once"]


def _server_major(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(text("SHOW server_version_num")) or 0) // 10000


def test_backups_say_what_they_run_on(app: Flask, runner: FlaskCliRunner, world: World) -> None:
    _, found = checks(runner)

    backups = found["backups"]
    assert backups["ok"] and backups["todo"] == ""
    if app.extensions["database"]["engine"].dialect.name == "sqlite":
        assert backups["seen"] == "db backup and db restore: built in (SQLite)"
    else:
        server = _server_major(app)
        assert re.fullmatch(
            rf"pg_dump \d+, pg_restore \d+, psql \d+ \(server {server}\)", backups["seen"]
        )


@pytest.mark.postgres_only
def test_missing_or_older_postgresql_clients_are_named_with_what_to_install(
    app: Flask,
    runner: FlaskCliRunner,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Backups from cron would fail at night: status says so beforehand, as advice (an
    installation may back up by other means), so the exit stays 0."""
    programs = tmp_path / "bin"
    programs.mkdir()
    old_dump = programs / "pg_dump"
    old_dump.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    old_dump.chmod(0o755)
    monkeypatch.setenv("PATH", str(programs))
    server = _server_major(app)

    _, found = checks(runner)

    backups = found["backups"]
    assert backups["ok"]
    assert backups["seen"] == f"pg_dump 9, no pg_restore, no psql (server {server})"
    assert backups["todo"] == (
        f"install PostgreSQL's client programs {server} or newer "
        f"(Debian: apt install postgresql-client-{server}): db backup and db restore need them"
    )
