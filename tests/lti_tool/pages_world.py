"""A small world for page tests: two platforms, courses, learners, a référentiel, evidence.

Course A (platform A) has learners Alice and Bob and trainer Tom; course B (platform
B) has learner Zoé. Alice has evidence on bloc 1 (C1 acquis with 0.9, C2 en cours with
0.4, under the default rule); Zoé has evidence in course B; Bob has none.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from lti_tool.access import LaunchContext, issue_launch_token
from lti_tool.database import db
from lti_tool.models import (
    CourseContext,
    Deployment,
    LtiUser,
    Membership,
    Platform,
    ResourceLink,
)
from referentiel.models import Bloc, Competency, Framework
from xapi.credentials import create_credential
from xapi.models import Evidence, Statement
from xapi.signals import evidence_changed

ISS_A = "https://moodle-a.test"
ISS_B = "https://moodle-b.test:8443"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ADMIN_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"


@dataclass
class World:
    framework: Framework
    course_a: CourseContext
    course_b: CourseContext
    link_a: ResourceLink
    link_b: ResourceLink
    alice: LtiUser
    bob: LtiUser
    tom: LtiUser
    zoe: LtiUser
    admin: LtiUser
    competencies: list[Competency]


def add_framework(session: Session, blocs: int = 2, per_bloc: int = 3) -> Framework:
    framework = Framework(key="diplovis-bgdc", version="1.0.0", title="DIPLOVIS - Bachelor test")
    session.add(framework)
    code = 0
    for b in range(1, blocs + 1):
        bloc = Bloc(
            framework=framework, key=f"bloc-{b}", number=b, title=f"Bloc title {b}", position=b
        )
        for _ in range(per_bloc):
            code += 1
            bloc.competencies.append(
                Competency(code=f"C{code}", text=f"Competency text {code}", position=code)
            )
        session.add(bloc)
    session.flush()
    return framework


def add_learner(
    session: Session, course: CourseContext, sub: str, name: str, *, role: str = LEARNER_ROLE
) -> LtiUser:
    user = LtiUser(issuer=course.issuer, sub=sub, name=name, email=f"{sub}@example.org")
    session.add(user)
    session.flush()
    session.add(
        Membership(
            context_id=course.id,
            user_id=user.id,
            roles=[role],
            is_learner=role == LEARNER_ROLE,
            is_instructor=role == INSTRUCTOR_ROLE,
        )
    )
    return user


def add_evidence(
    session: Session,
    learner: LtiUser,
    competency: Competency,
    *,
    score: float | None = 0.9,
    activity: str = "https://moodle-a.test/mod/quiz/view.php?id=12",
    name: str = "Quiz prospection",
    when: datetime | None = None,
) -> Evidence:
    when = when or datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    statement_id = str(uuid.uuid4())
    raw = {
        "id": statement_id,
        "actor": {"account": {"homePage": learner.issuer, "name": learner.sub}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": activity, "definition": {"name": {"fr-FR": name, "en-US": name}}},
    }
    session.add(
        Statement(
            id=statement_id,
            raw=json.dumps(raw),
            stored=when,
            timestamp=when,
            verb_id="http://adlnet.gov/expapi/verbs/completed",
            object_id=activity,
            actor_key=f"account:{learner.issuer}|{learner.sub}",
        )
    )
    session.flush()
    evidence = Evidence(
        statement_id=statement_id,
        learner_id=learner.id,
        competency_id=competency.id,
        verb_id="http://adlnet.gov/expapi/verbs/completed",
        source_activity=activity,
        score_scaled=score,
        success=None,
        completion=True,
        occurred_at=when,
    )
    session.add(evidence)
    return evidence


def build_world(session: Session) -> World:
    framework = add_framework(session)
    for issuer, login in ((ISS_A, f"{ISS_A}/mod/lti/auth.php"), (ISS_B, f"{ISS_B}/auth")):
        platform = Platform(
            issuer=issuer,
            client_id="client-" + issuer[-6:],
            name="",
            auth_login_url=login,
            auth_token_url=f"{issuer}/token",
            key_set_url=f"{issuer}/certs",
        )
        platform.deployments.append(Deployment(deployment_id="1"))
        session.add(platform)
    course_a = CourseContext(issuer=ISS_A, deployment_id="1", context_id="42", title="BGDC 2026")
    course_b = CourseContext(issuer=ISS_B, deployment_id="1", context_id="42", title="Other")
    session.add_all([course_a, course_b])
    session.flush()
    link_a = ResourceLink(
        context_id=course_a.id, resource_link_id="rl-a", framework_key="diplovis-bgdc"
    )
    link_b = ResourceLink(
        context_id=course_b.id, resource_link_id="rl-b", framework_key="diplovis-bgdc"
    )
    session.add_all([link_a, link_b])
    alice = add_learner(session, course_a, "101", "Alice Martin")
    bob = add_learner(session, course_a, "102", "Bob Durand")
    tom = add_learner(session, course_a, "900", "Tom Trainer", role=INSTRUCTOR_ROLE)
    admin = add_learner(session, course_a, "1", "Ada Admin", role=ADMIN_ROLE)
    zoe = add_learner(session, course_b, "101", "Zoé Other")
    session.flush()
    competencies = [c for b in framework.blocs for c in b.competencies]
    add_evidence(session, alice, competencies[0], when=datetime(2026, 3, 1, 9, tzinfo=UTC))
    add_evidence(
        session,
        alice,
        competencies[1],
        score=0.4,
        name="Jeu de rôle",
        when=datetime(2026, 3, 1, 9, tzinfo=UTC) + timedelta(days=3),
    )
    add_evidence(session, zoe, competencies[0], name="Secret of course B")
    session.flush()
    # As xapi does: achievement recomputes in the same transaction.
    evidence_changed.send(
        session,
        touched={
            (alice.id, competencies[0].id),
            (alice.id, competencies[1].id),
            (zoe.id, competencies[0].id),
        },
    )
    session.commit()
    return World(
        framework, course_a, course_b, link_a, link_b, alice, bob, tom, zoe, admin, competencies
    )


def launch_for(
    user: LtiUser, course: CourseContext, link: ResourceLink, role: str, locale: str = "fr"
) -> LaunchContext:
    return LaunchContext(
        issuer=user.issuer,
        user_id=user.id,
        context_id=course.id,
        resource_link_id=link.id,
        roles=(),
        role=role,  # type: ignore[arg-type]
        locale=locale,
    )


def token_for(app: Flask, launch: LaunchContext) -> str:
    with app.test_request_context():
        return issue_launch_token(launch)


def trainer_client(app: Flask, world: World, learner_id: int) -> tuple[FlaskClient, str, str]:
    """Tom's cookie-less client (as in a cross-site iframe), his launch token, and the CSRF
    token read from the learner's page."""
    client = app.test_client(use_cookies=False)
    lt = token_for(app, launch_for(world.tom, world.course_a, world.link_a, "instructor"))
    html = client.get(f"/trainer/learners/{learner_id}", query_string={"lt": lt}).get_data(
        as_text=True
    )
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return client, lt, found.group(1)


def post_quiz_statements(
    app: Flask, *actors_and_quizzes: tuple[str, str, int], platform: str | None = None
) -> None:
    """Quiz completions as Moodle's log store sends them (``site`` empty: an H5P-style
    ``mbox`` actor, ``sub`` its address), through the Statements resource."""
    with app.app_context():
        issued = create_credential(db.session, "log store", platform)
        db.session.commit()
        key, secret = issued.credential.key, issued.secret
    statements = [
        {
            "actor": {"account": {"homePage": site, "name": sub}}
            if site
            else {"mbox": f"mailto:{sub}"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": f"{site or ISS_A}/mod/quiz/view.php?id={quiz}"},
            "result": {"score": {"scaled": 0.8}},
        }
        for site, sub, quiz in actors_and_quizzes
    ]
    answer = app.test_client().post(
        "/xapi/statements",
        json=statements,
        headers={"X-Experience-API-Version": "1.0.3"},
        auth=(key, secret),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
