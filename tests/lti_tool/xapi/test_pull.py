"""``lti-tool xapi pull`` against a second instance of this LRS served over loopback HTTP
by a real server thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from werkzeug.serving import make_server
from xapi_lrs_client import Lrs

from lti_tool import create_app, migrate
from lti_tool.cli import main
from lti_tool.database import db, make_engine
from xapi.credentials import create_credential
from xapi.models import PullSource, Statement
from xapi.pull import RemoteLrsSource, pull

Sample = Callable[[str], dict[str, Any]]


class RemoteLrs:
    """Another LRS (this tool, on its own SQLite database) listening on 127.0.0.1."""

    def __init__(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'remote.sqlite3'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        self.server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
        port = self.server.server_port
        self.endpoint = f"http://127.0.0.1:{port}/xapi/"
        self.app = create_app(
            {
                "DATABASE_URL": url,
                "BASE_URL": f"http://127.0.0.1:{port}",
                "SECRET_KEY": "remote-secret",
                "TESTING": True,
            }
        )
        self.server.app = self.app
        with self.app.app_context():
            issued = create_credential(db.session, "puller")
            db.session.commit()
            self.key, self.secret = issued.credential.key, issued.secret
        self.lrs = Lrs(self.app.test_client(), self.key, self.secret)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.app.extensions["database"]["engine"].dispose()


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[RemoteLrs]:
    server = RemoteLrs(tmp_path)
    yield server
    server.stop()


def local_ids(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Statement.id)).all())


def run_pull(runner: FlaskCliRunner, remote: RemoteLrs, *options: str) -> Any:
    return runner.invoke(
        main,
        [
            "xapi",
            "pull",
            "--endpoint",
            remote.endpoint,
            "--key",
            remote.key,
            "--secret",
            remote.secret,
            *options,
        ],
    )


def test_pull_takes_every_remote_statement_exactly_and_resumes(
    remote: RemoteLrs, runner: FlaskCliRunner, app: Flask, sample: Sample
) -> None:
    ids = remote.lrs.post([sample("moodle_quiz_completed"), sample("h5p_answered")]).json
    first = run_pull(runner, remote)
    assert first.exit_code == 0, first.output
    assert "Pulled 2 new statement(s)" in first.output
    assert local_ids(app) == set(ids)
    with app.app_context():
        row = db.session.get(Statement, ids[0])
        assert row is not None
        # The exact JSON the remote returned, its authority kept.
        assert json.loads(row.raw)["actor"] == sample("moodle_quiz_completed")["actor"]
        assert json.loads(row.authority)["account"]["name"] == remote.key
        cursor = db.session.scalar(select(PullSource))
        assert cursor is not None and cursor.pulled == 2 and cursor.since

    [third] = remote.lrs.post(sample("cmi5_passed")).json
    again = run_pull(runner, remote)
    assert "Pulled 1 new statement(s)" in again.output
    assert "read from the start" not in again.output  # 'since' on stored, as xAPI says
    assert local_ids(app) == {*ids, third}


def test_pull_never_stores_twice_and_reports_conflicts(
    remote: RemoteLrs, runner: FlaskCliRunner, app: Flask, lrs: Lrs, sample: Sample
) -> None:
    statement = sample("cmi5_passed")
    remote.lrs.post([statement, sample("h5p_answered")])
    changed = sample("cmi5_passed")
    changed["result"]["success"] = False
    assert lrs.post(changed).status_code == 200  # the same id, here, with other content
    result = run_pull(runner, remote)
    assert result.exit_code == 0
    assert "1 conflict(s)" in result.output
    assert f"conflict: statement {statement['id']}" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Statement)) == 2
        kept = db.session.get(Statement, statement["id"])
        assert kept is not None and json.loads(kept.raw)["result"]["success"] is False
    rerun = run_pull(runner, remote)
    assert "Pulled 0 new statement(s)" in rerun.output


def test_pull_follows_more_and_stores_each_page(
    remote: RemoteLrs, app: Flask, sample: Sample
) -> None:
    batch = []
    for n in range(5):
        statement = sample("h5p_answered")
        statement["object"]["id"] += f"&n={n}"
        batch.append(statement)
    ids = remote.lrs.post(batch).json
    pages: list[int] = []
    with app.app_context():
        source = RemoteLrsSource(remote.endpoint, remote.key, remote.secret, timeout=5)
        report = pull(
            db.session,
            source,
            remote.endpoint,
            remote.key,
            page_size=2,
            on_page=lambda r: pages.append(r.stored),
        )
    assert report.stored == 5 and report.pages == 3
    assert pages == [2, 4, 5]
    assert local_ids(app) == set(ids)


def test_pulled_voiding_statement_voids_the_local_copy(
    remote: RemoteLrs, runner: FlaskCliRunner, lrs: Lrs, sample: Sample
) -> None:
    [target] = remote.lrs.post(sample("h5p_answered")).json
    run_pull(runner, remote)
    remote.lrs.post(
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": target},
        }
    )
    run_pull(runner, remote)
    assert lrs.get(statementId=target).status_code == 404
    assert lrs.get(voidedStatementId=target).status_code == 200


def test_pull_with_wrong_credentials_fails_in_one_line(
    remote: RemoteLrs, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(
        main,
        ["xapi", "pull", "--endpoint", remote.endpoint, "--key", remote.key, "--secret", "bad"],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error:") and "401" in result.output


def test_pull_from_nowhere_fails_in_one_line(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        ["xapi", "pull", "--endpoint", "http://127.0.0.1:9/xapi/", "--key", "k", "--secret", "s"],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: could not read")


def test_follow_keeps_polling_and_takes_what_arrives(
    remote: RemoteLrs, runner: FlaskCliRunner, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lti_tool.cli.xapi as xapi_cli

    remote.lrs.post(sample("h5p_answered"))
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            remote.lrs.post(sample("cmi5_passed"))  # arrives between two polls
        else:
            raise SystemExit(0)

    monkeypatch.setattr(xapi_cli, "sleep", nap)
    result = run_pull(runner, remote, "--follow", "--interval", "5")
    lines = [line for line in result.output.splitlines() if line.startswith("Pulled")]
    assert lines[0].startswith("Pulled 1 new") and lines[1].startswith("Pulled 1 new")
    assert naps == [5.0, 5.0]
