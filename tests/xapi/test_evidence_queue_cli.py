"""``lti-tool evidence queue``: what waits for its evidence, and deriving it by hand."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from xapi_samples import BASE_URL, cmi5_passed

from lti_tool.cli import main
from lti_tool.models import Competency, LtiUser
from xapi.credentials import authority_agent, create_credential
from xapi.models import Evidence
from xapi.statements_store import parse_body, prepare_statements, write_statements


def test_queue_reports_the_backlog_and_drain_derives_it(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
) -> None:
    make_user("42")
    issued = create_credential(session, "cmi5 player")
    items, _ = parse_body(
        json.dumps(
            [cmi5_passed("42", "bloc-2/C9", scaled=0.9), cmi5_passed("42", "bloc-1/C1", scaled=0.8)]
        )
    )
    write_statements(
        session,
        prepare_statements(
            items,
            authority=authority_agent(issued.credential, BASE_URL),
            credential=issued.credential,
        ),
    )
    session.commit()  # stored and queued, not derived

    waiting = runner.invoke(main, ["evidence", "queue"])
    assert waiting.exit_code == 0, waiting.output
    assert waiting.output.startswith("2 statement(s) wait for their evidence, the oldest for ")
    assert session.scalar(select(func.count()).select_from(Evidence)) == 0

    drained = runner.invoke(main, ["evidence", "queue", "--drain"])
    assert drained.exit_code == 0, drained.output
    assert drained.output.splitlines() == [
        "Derived 2 statement(s): 2 evidence added, 0 withdrawn.",
        "No statement waits for its evidence.",
    ]
    assert session.scalar(select(func.count()).select_from(Evidence)) == 2
