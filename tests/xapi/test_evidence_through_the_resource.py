"""Statements posted to the Statements resource become evidence in the same request,
through the real storage path and its signals (Moodle logstore_xapi, H5P, cmi5)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from xapi_samples import BASE_URL, MOODLE

from lti_tool.models import Competency, LtiUser
from xapi.credentials import create_credential
from xapi.mapping_rules import add_rules
from xapi.models import Evidence

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "xapi"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def post(
    client: FlaskClient, session: Session, statements: Any, platform: str | None = None
) -> Any:
    issued = create_credential(session, "provider", platform)
    session.commit()
    token = base64.b64encode(f"{issued.credential.key}:{issued.secret}".encode()).decode()
    return client.post(
        "/xapi/statements",
        data=json.dumps(statements),
        headers={
            "Authorization": f"Basic {token}",
            "X-Experience-API-Version": "1.0.3",
            "Content-Type": "application/json",
        },
    )


def evidence_of(session: Session, user: LtiUser) -> list[tuple[str, str, float | None]]:
    rows = session.execute(
        select(Evidence.verb_id, Evidence.source_activity, Evidence.score_scaled).where(
            Evidence.learner_id == user.id
        )
    ).all()
    return sorted((verb, activity, score) for verb, activity, score in rows)


def test_moodle_h5p_and_cmi5_statements_become_evidence_for_the_learner(
    client: FlaskClient,
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
) -> None:
    ada = make_user("42", email="ada.martin@example.org")
    add_rules(
        session,
        f"{MOODLE}/mod/quiz/",
        [f"{BASE_URL}/referentiels/diplovis-bgdc/bloc-2/C9"],
        prefix=True,
        base_url=BASE_URL,
    )
    add_rules(
        session,
        f"{MOODLE}/mod/h5pactivity/view.php?id=21",
        [f"{BASE_URL}/referentiels/diplovis-bgdc/bloc-1/C2"],
        prefix=False,
        base_url=BASE_URL,
    )
    session.commit()
    response = post(
        client,
        session,
        [sample("moodle_quiz_completed"), sample("h5p_answered"), sample("cmi5_passed")],
    )
    assert response.status_code == 200, response.json
    session.expire_all()
    kinds = {
        (verb.rsplit("/", 1)[1], score) for verb, _activity, score in evidence_of(session, ada)
    }
    # The quiz (mapped through its parent module), the H5P answer (mapped by id, learner
    # known by email) and the cmi5 AU (tagged with C10 in contextActivities.parent).
    assert kinds == {("completed", 0.8), ("answered", 1.0), ("passed", 0.85)}


def test_voiding_through_the_resource_withdraws_the_evidence(
    client: FlaskClient,
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
) -> None:
    ada = make_user("42")
    statement = sample("cmi5_passed")
    post(client, session, statement)
    session.expire_all()
    assert len(evidence_of(session, ada)) == 1
    voiding = {
        "actor": {"mbox": "mailto:teacher@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": statement["id"]},
    }
    assert post(client, session, voiding).status_code == 200
    session.expire_all()
    assert evidence_of(session, ada) == []
