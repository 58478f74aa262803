"""The document a stored framework describes now: what the exports and pages publish."""

from __future__ import annotations

from referentiel.document import (
    ActivityDocument,
    BlocDocument,
    CompetencyDocument,
    CriterionDocument,
    FrameworkDocument,
)
from referentiel.models import Bloc, Framework


def current_document(framework: Framework) -> FrameworkDocument:
    """The framework without what revisions retired (retired rows stay in the database)."""
    return FrameworkDocument(
        key=framework.key,
        version=framework.version,
        title=framework.title,
        language=framework.language,
        abbreviation=framework.abbreviation,
        description=framework.description,
        source=framework.source,
        jury=framework.jury,
        rncp_code=framework.rncp_code,
        blocs=tuple(_bloc(b) for b in framework.blocs if b.retired_at is None),
    )


def _bloc(bloc: Bloc) -> BlocDocument:
    return BlocDocument(
        key=bloc.key,
        number=bloc.number,
        title=bloc.title,
        description=bloc.description,
        optional=bloc.optional,
        option_group=bloc.option_group,
        competency_list_raw=bloc.competency_list_raw,
        activities=tuple(
            ActivityDocument(key=a.key, number=a.number, title=a.title)
            for a in bloc.activities
            if a.retired_at is None
        ),
        competencies=tuple(
            CompetencyDocument(
                code=c.code,
                text=c.text,
                activity=c.activity.key if c.activity and c.activity.retired_at is None else None,
            )
            for c in bloc.competencies
            if c.retired_at is None
        ),
        modalities=tuple(bloc.modalities),
        criteria=tuple(
            CriterionDocument(key=c.key, text=c.text, competencies=tuple(c.competency_codes))
            for c in bloc.criteria
            if c.retired_at is None
        ),
    )
