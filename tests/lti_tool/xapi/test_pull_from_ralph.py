"""``lti-tool xapi pull`` from a real Ralph 5.1 (PyPI ralph-malph), the LRS many
training centres already run, started on loopback from its own virtualenv
(``scripts/ralph-venv``, which the test command runs; skipped where Ralph could not be
installed). Its statements land here exactly once and become evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.ralph_peer import RalphPeer, installed, start_ralph
from lti_tool.cli import main
from tests.lti_tool.pages_world import World
from tests.xapi.xapi_samples import cmi5_passed
from xapi.models import Evidence, Statement
from xapi.pull import RemoteLrsSource, pull


@pytest.fixture
def ralph() -> Iterator[RalphPeer]:
    if not installed():
        pytest.skip("Ralph 5.1 is not installed (scripts/ralph-venv installs it)")
    peer = start_ralph()
    yield peer
    peer.stop()


def post_to_ralph(ralph: RalphPeer, statements: list[dict[str, Any]]) -> list[str]:
    response = requests.post(
        f"{ralph.endpoint}statements",
        json=statements,
        auth=ralph.auth,
        headers={"X-Experience-API-Version": "1.0.3"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return [str(ident) for ident in response.json()]


def pull_from(ralph: RalphPeer, runner: FlaskCliRunner) -> Any:
    key, secret = ralph.auth
    result = runner.invoke(
        main, ["xapi", "pull", "--endpoint", ralph.endpoint, "--key", key, "--secret", secret]
    )
    assert result.exit_code == 0, result.output
    return result


def test_statements_pulled_from_ralph_are_stored_once_and_become_evidence(
    ralph: RalphPeer, runner: FlaskCliRunner, session: Session, world: World
) -> None:
    bob, alice = world.bob, world.alice
    before = set(session.scalars(select(Statement.id)))  # the world's own statements
    first = [
        cmi5_passed(bob.sub, "bloc-1/C3", scaled=0.9, site=bob.issuer),
        cmi5_passed(alice.sub, "bloc-1/C3", scaled=0.4, site=alice.issuer, success=False),
    ]
    for n, statement in enumerate(first):
        statement["context"]["registration"] = f"00000000-0000-4000-8000-00000000000{n}"
    ids = post_to_ralph(ralph, first)

    assert "Pulled 2 new statement(s)" in pull_from(ralph, runner).output
    assert set(session.scalars(select(Statement.id))) - before == set(ids)
    evidence = {
        (row.learner_id, row.statement_id, row.success)
        for row in session.scalars(select(Evidence).where(Evidence.statement_id.in_(ids)))
    }
    assert evidence == {(bob.id, ids[0], True), (alice.id, ids[1], False)}

    session.rollback()
    assert "Pulled 0 new statement(s)" in pull_from(ralph, runner).output  # never twice
    later = cmi5_passed(alice.sub, "bloc-1/C3", scaled=0.95, site=alice.issuer)
    later["timestamp"] = "2026-11-22T09:00:00.000Z"
    [third] = post_to_ralph(ralph, [later])
    resumed = pull_from(ralph, runner).output
    assert "Pulled 1 new statement(s)" in resumed
    # Ralph filters 'since' on timestamp: asked from the cursor, it would have hidden
    # this statement (its activity happened before the last run); it is read again.
    assert "read from the start" in resumed and "2 already here" in resumed
    session.rollback()
    assert set(session.scalars(select(Statement.id))) - before == {*ids, third}
    pulled = session.scalars(select(Evidence).where(Evidence.statement_id.in_([*ids, third])))
    assert len(pulled.all()) == 3


def test_ralph_more_links_are_followed_on_its_own_server(
    ralph: RalphPeer, session: Session
) -> None:
    # Ralph's 'more' is a path with a query ("/xAPI/statements?...&search_after=..."),
    # resolved against the endpoint and checked to stay on its server.
    statements = []
    for n in range(5):
        statement = cmi5_passed(f"learner-{n}", "bloc-1/C3", scaled=0.8)
        statement["timestamp"] = f"2026-11-21T14:02:1{n}.000Z"
        statements.append(statement)
    ids = post_to_ralph(ralph, statements)
    key, secret = ralph.auth
    source = RemoteLrsSource(ralph.endpoint, key, secret, timeout=10)
    report = pull(session, source, ralph.endpoint, key, page_size=2)
    assert (report.pages, report.stored) == (3, 5)
    assert set(session.scalars(select(Statement.id).where(Statement.id.in_(ids)))) == set(ids)
