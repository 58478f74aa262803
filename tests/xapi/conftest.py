"""Factories for the evidence tests: a small référentiel, LTI users, stored statements.

Statements are stored the way the Statements resource stores them (a row with the
exact JSON and indexed columns, then ``statements_stored`` in the same session), so
these tests drive the evidence module through its real entry point.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session
from xapi_samples import MOODLE

import xapi.evidence  # noqa: F401  (connects the receivers)
from lti_tool.models import Bloc, Competency, Framework, LtiUser
from xapi.actors import actor_key
from xapi.models import Statement
from xapi.signals import statements_stored, statements_voided


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
    session: Session, *statements: dict[str, Any], platform_issuer: str | None = None
) -> list[Statement]:
    """Store statements as the Statements resource does, and commit."""
    rows = []
    now = datetime.now(UTC)
    for statement in statements:
        statement.setdefault("id", str(uuid.uuid4()))
        timestamp = datetime.fromisoformat(statement.get("timestamp", now.isoformat()))
        rows.append(
            Statement(
                id=statement["id"],
                raw=json.dumps(statement),
                stored=now,
                timestamp=timestamp,
                verb_id=statement["verb"]["id"],
                object_id=statement["object"].get("id"),
                actor_key=actor_key(statement["actor"]),
                platform_issuer=platform_issuer,
            )
        )
    session.add_all(rows)
    session.flush()
    statements_stored.send(session, statements=rows)
    session.commit()
    return rows


def void_statement(session: Session, target_id: str) -> None:
    """Void a statement as the Statements resource does (§2.2.3 Voided)."""
    target = session.get(Statement, target_id)
    assert target is not None
    target.voided = True
    store_statements(
        session,
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en": "voided"}},
            "object": {"objectType": "StatementRef", "id": target_id},
        },
    )
    statements_voided.send(session, statement_ids=[target_id])
    session.commit()


@pytest.fixture
def store(session: Session) -> Callable[..., list[Statement]]:
    def run(*statements: dict[str, Any], platform_issuer: str | None = None) -> list[Statement]:
        return store_statements(session, *statements, platform_issuer=platform_issuer)

    return run


@pytest.fixture
def void(session: Session) -> Callable[[str], None]:
    return lambda target_id: void_statement(session, target_id)
