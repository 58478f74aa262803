"""Statements sent before a learner's first launch become evidence at that launch."""

from __future__ import annotations

import json

from sqlalchemy import select

from lti_tool.database import db
from lti_tool.models.people import LtiUser
from tests.lms.fixtures import LiveTool
from tests.lms.flow import LaunchFlow
from tests.lms.platform import TestPlatform
from xapi import derivation
from xapi.credentials import authority_agent, create_credential
from xapi.models import Evidence
from xapi.statements_store import parse_body, prepare_statements, write_statements


def test_first_launch_turns_the_learners_earlier_statements_into_evidence(
    launch_flow: LaunchFlow, live_tool: LiveTool, lms: TestPlatform
) -> None:
    competency = f"{live_tool.url}/referentiels/diplovis-bgdc/bloc-2/C10"
    statement = {
        "actor": {"account": {"homePage": lms.issuer, "name": "2"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://contenus.example.org/negociation/cas-3"},
        "result": {"score": {"scaled": 0.9}, "success": True},
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "id": competency,
                        "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
                    }
                ]
            }
        },
    }
    with live_tool.app.app_context():
        issued = create_credential(db.session, "contenus", lms.issuer)
        items, _ = parse_body(json.dumps(statement))
        write_statements(
            db.session,
            prepare_statements(
                items,
                authority=authority_agent(issued.credential, live_tool.url),
                credential=issued.credential,
            ),
        )
        db.session.commit()
        derivation.drain(db.session)
        assert db.session.scalar(select(Evidence)) is None  # nobody launched yet

    page = launch_flow.launch("learner")

    assert page.status_code == 200, page.text
    with live_tool.app.app_context():
        user = db.session.scalar(select(LtiUser).where(LtiUser.sub == "2"))
        evidence = db.session.scalar(select(Evidence))
        assert user is not None and evidence is not None
        assert evidence.learner_id == user.id
        assert evidence.score_scaled == 0.9 and evidence.success is True
