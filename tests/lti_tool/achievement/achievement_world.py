"""A course with learners on the DIPLOVIS référentiel, and evidence as the xapi layer sends it.

Imported by the tests of this folder (``from achievement_world import ...``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.people import CourseContext, LtiUser, Membership
from lti_tool.models.platform import Deployment, Platform
from lti_tool.models.resource_link import ResourceLink
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
from referentiel.models import Bloc, Competency, Framework
from xapi.models import Evidence, Statement
from xapi.signals import evidence_changed

ISSUER = "https://moodle.test"
CONTEXT = "course-42"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    session: Session
    framework: Framework
    context: CourseContext
    platform: Platform
    learners: dict[str, LtiUser] = field(default_factory=dict)
    links: dict[str, ResourceLink] = field(default_factory=dict)
    clock: int = 0

    def bloc(self, key: str) -> Bloc:
        return next(b for b in self.framework.blocs if b.key == key)

    def competency(self, bloc_key: str, code: str) -> Competency:
        return next(c for c in self.bloc(bloc_key).competencies if c.code == code)

    def add_learner(self, sub: str, name: str = "") -> LtiUser:
        user = LtiUser(issuer=ISSUER, sub=sub, name=name or f"Learner {sub}")
        self.session.add(user)
        self.session.flush()
        self.session.add(Membership(context_id=self.context.id, user_id=user.id, is_learner=True))
        self.session.flush()
        self.learners[sub] = user
        return user

    def add_link(
        self, name: str, bloc_key: str | None, lineitem_url: str | None = None
    ) -> ResourceLink:
        link = ResourceLink(
            context_id=self.context.id,
            resource_link_id=f"rl-{name}",
            title=name,
            framework_key=self.framework.key,
            bloc_key=bloc_key,
            lineitem_url=lineitem_url,
        )
        self.session.add(link)
        self.session.flush()
        self.links[name] = link
        return link

    def evidence(
        self,
        sub: str,
        target: str,
        score: float | None = None,
        success: bool | None = None,
        activity: str = "https://moodle.test/mod/quiz/view.php?id=1",
        at: datetime | None = None,
    ) -> Evidence:
        """One statement counted for one competency (``target`` is 'bloc-1/C1'), then the
        signal the evidence layer sends in the same transaction."""
        bloc_key, code = target.split("/")
        self.clock += 1
        when = at or T0 + timedelta(hours=self.clock)
        statement_id = str(uuid.uuid4())
        self.session.add(
            Statement(
                id=statement_id,
                raw=json.dumps({"id": statement_id}),
                stored=datetime.now(UTC),
                timestamp=when,
                verb_id="http://adlnet.gov/expapi/verbs/completed",
                object_id=activity,
                actor_key=f"{ISSUER}|{sub}",
            )
        )
        self.session.flush()
        learner = self.learners[sub]
        competency = self.competency(bloc_key, code)
        row = Evidence(
            statement_id=statement_id,
            learner_id=learner.id,
            competency_id=competency.id,
            verb_id="http://adlnet.gov/expapi/verbs/completed",
            source_activity=activity,
            score_scaled=score,
            success=success,
            occurred_at=when,
        )
        self.session.add(row)
        self.session.flush()
        evidence_changed.send(self.session, touched={(learner.id, competency.id)})
        return row

    def acquire_bloc(self, sub: str, bloc_key: str) -> None:
        for competency in self.bloc(bloc_key).competencies:
            self.evidence(sub, f"{bloc_key}/{competency.code}", score=0.9)


def make_world(session: Session) -> World:
    result = load_document(session, read_builtin("diplovis-bgdc"))
    context = CourseContext(
        issuer=ISSUER,
        deployment_id="1",
        context_id=CONTEXT,
        title="BGDC 2026",
        ags_lineitems_url="http://lms.invalid/lineitems",
    )
    platform = Platform(
        issuer=ISSUER,
        client_id="client-abc",
        auth_login_url="http://lms.invalid/auth",
        auth_token_url="http://lms.invalid/token",
        key_set_url="http://lms.invalid/certs",
    )
    session.add_all([context, platform])
    session.flush()
    session.add(Deployment(platform_id=platform.id, deployment_id="1"))
    session.flush()
    framework = session.scalars(select(Framework).where(Framework.id == result.framework.id)).one()
    return World(session=session, framework=framework, context=context, platform=platform)
