"""Factories for the evidence tests: a small référentiel, LTI users, stored statements.

Statements go through the Statements resource's own storage (validation, rows, index
tables, the derivation queue), then the queue is drained as the web process or the
worker does, so these tests drive the evidence module through its real entry points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from xapi_samples import BASE_URL, MOODLE

from lti_tool.models import Bloc, Competency, Framework, LtiUser
from xapi import derivation
from xapi.credentials import authority_agent, create_credential
from xapi.models import Statement
from xapi.statements_store import parse_body, prepare_statements, write_statements


@pytest.fixture
def referentiel(session: Session) -> dict[str, Competency]:
    """Two blocs of DIPLOVIS with a few competencies, keyed by 'bloc-2/C10'."""
    framework = Framework(key="diplovis-bgdc", version="2024", title="DIPLOVIS BGDC")
    competencies: dict[str, Competency] = {}
    for number, codes in ((1, ["C1", "C2"]), (2, ["C9", "C10"])):
        bloc = Bloc(
            framework=framework, key=f"bloc-{number}", number=number, title=f"Bloc {number}"
        )
        for position, code in enumerate(codes):
            competency = Competency(
                bloc=bloc, code=code, text=f"Compétence {code}", position=position
            )
            competencies[f"bloc-{number}/{code}"] = competency
    session.add(framework)
    session.commit()
    return competencies


@pytest.fixture
def make_user(session: Session) -> Callable[..., LtiUser]:
    def make(sub: str, issuer: str = MOODLE, email: str | None = None) -> LtiUser:
        user = LtiUser(issuer=issuer, sub=sub, email=email, name=f"Learner {sub}")
        session.add(user)
        session.commit()
        return user

    return make


def store_statements(
    session: Session,
    *statements: dict[str, Any],
    platform_issuer: str | None = None,
    derive: bool = True,
) -> list[Statement]:
    """Store statements through the Statements resource's storage, commit, and derive
    their evidence (``derive`` False: left queued, as a POST leaves them).

    ``platform_issuer`` binds the sending credential to that platform.
    """
    issued = create_credential(session, "activity provider", platform_issuer)
    session.flush()
    items, _ = parse_body(json.dumps(list(statements)))
    result = write_statements(
        session,
        prepare_statements(
            items,
            authority=authority_agent(issued.credential, BASE_URL),
            credential=issued.credential,
        ),
    )
    session.commit()
    if derive:
        derivation.drain(session)
    rows = {
        row.id: row
        for row in session.scalars(select(Statement).where(Statement.id.in_(result.new_ids)))
    }
    return [rows[ident] for ident in result.new_ids]


def void_statement(session: Session, target_id: str) -> None:
    """Void a statement with a voiding statement (xAPI 1.0.3 Data §2.3.2)."""
    store_statements(
        session,
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en": "voided"}},
            "object": {"objectType": "StatementRef", "id": target_id},
        },
    )


@pytest.fixture
def store(session: Session) -> Callable[..., list[Statement]]:
    def run(
        *statements: dict[str, Any], platform_issuer: str | None = None, derive: bool = True
    ) -> list[Statement]:
        return store_statements(
            session, *statements, platform_issuer=platform_issuer, derive=derive
        )

    return run


@pytest.fixture
def void(session: Session) -> Callable[[str], None]:
    return lambda target_id: void_statement(session, target_id)
