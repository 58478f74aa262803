"""Evidence rows for people: who, which competency, from which statement, with what result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.exceptions import NotFound
from lti_tool.models import Bloc, Competency, Framework, LtiUser
from referentiel.lookup import competency_by_iri, competency_iri
from xapi.models import Evidence

COLUMNS = (
    "platform",
    "learner",
    "learner_name",
    "competency",
    "competency_code",
    "statement_id",
    "verb",
    "score_scaled",
    "success",
    "completion",
    "occurred_at",
    "source_activity",
)


@dataclass(frozen=True)
class EvidenceFilter:
    platform: str | None = None
    learner: str | None = None  # the LTI sub
    competency_iri: str | None = None


def evidence_rows(session: Session, base_url: str, where: EvidenceFilter) -> list[dict[str, Any]]:
    """Current evidence, oldest first, one dict per row keyed by :data:`COLUMNS`."""
    query = (
        select(Evidence, LtiUser, Competency, Bloc.key)
        .join(LtiUser, LtiUser.id == Evidence.learner_id)
        .join(Competency, Competency.id == Evidence.competency_id)
        .join(Bloc, Bloc.id == Competency.bloc_id)
        .join(Framework, Framework.id == Bloc.framework_id)
        .order_by(Evidence.occurred_at, Evidence.id)
    )
    if where.platform:
        issuer = where.platform.rstrip("/")
        query = query.where(LtiUser.issuer.in_([issuer, f"{issuer}/"]))
    if where.learner:
        query = query.where(LtiUser.sub == where.learner)
    if where.competency_iri:
        competency = competency_by_iri(session, where.competency_iri, base_url)
        if competency is None:
            raise NotFound(f"no competency has the IRI {where.competency_iri}")
        query = query.where(Evidence.competency_id == competency.id)
    return [
        {
            "platform": user.issuer,
            "learner": user.sub,
            "learner_name": user.display_name,
            "competency": competency_iri(base_url, competency),
            "competency_code": f"{bloc_key}/{competency.code}",
            "statement_id": evidence.statement_id,
            "verb": evidence.verb_id,
            "score_scaled": evidence.score_scaled,
            "success": evidence.success,
            "completion": evidence.completion,
            "occurred_at": evidence.occurred_at.isoformat(),
            "source_activity": evidence.source_activity,
        }
        for evidence, user, competency, bloc_key in session.execute(query)
    ]
