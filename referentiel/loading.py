"""Writing a référentiel document to the database: an idempotent upsert by key.

Rows are matched by the référentiel's own keys (framework key, bloc key, activity
key, competency code, criterion key), never by position, so a revised version
updates texts in place and every row keeps its id: evidence, rules and jury
decisions tied to an unchanged competency stay where they are. Whatever a revision
drops is retired (``retired_at``), never deleted, and comes back if a later version
brings it back.

The caller owns the transaction: everything is written in the given session and
either committed together or rolled back together. Documents are fully validated
before this module sees them, so a bad file never reaches the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from referentiel import audit
from referentiel.document import BlocDocument, FrameworkDocument
from referentiel.models import Activity, Bloc, Competency, Criterion, Framework
from referentiel.orm import utcnow

Status = Literal["created", "unchanged", "updated"]


@dataclass
class LoadResult:
    framework: Framework
    status: Status
    counts: dict[str, int]
    changes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for the person who ran the load."""
        c = self.counts
        what = (
            f"{c['blocs']} blocs, {c['activities']} activities, "
            f"{c['competencies']} competencies, {c['criteria']} criteria"
        )
        if self.status == "updated":
            detail = ", ".join(f"{n} {label}" for label, n in sorted(self.changes.items()))
            state = f"updated: {detail}"
        else:
            state = self.status
        return f"{self.framework.key} {self.framework.version}: {what} ({state})"


class _Writer:
    """Applies one document to the rows of one framework, counting what changed."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.changes: Counter[str] = Counter()
        self._added: set[int] = set()

    def added(self, row: object, kind: str) -> None:
        """A new row: counted once as added, not field by field."""
        self._added.add(id(row))
        self.changes[f"{kind} added"] += 1

    def set(self, row: object, attribute: str, value: object, *, text: bool = True) -> None:
        if getattr(row, attribute) != value:
            setattr(row, attribute, value)
            if id(row) not in self._added:
                self.changes["texts" if text else "details"] += 1

    def retire(self, row: Bloc | Activity | Competency | Criterion, kind: str) -> None:
        if row.retired_at is None:
            row.retired_at = self.now
            self.changes[f"{kind} retired"] += 1

    def restore(self, row: Bloc | Activity | Competency | Criterion, kind: str) -> None:
        if row.retired_at is not None:
            row.retired_at = None
            self.changes[f"{kind} restored"] += 1

    def framework(self, framework: Framework, doc: FrameworkDocument) -> None:
        self.set(framework, "version", doc.version, text=False)
        self.set(framework, "title", doc.title)
        self.set(framework, "abbreviation", doc.abbreviation)
        self.set(framework, "language", doc.language, text=False)
        self.set(framework, "description", doc.description)
        self.set(framework, "source", doc.source, text=False)
        self.set(framework, "jury", doc.jury)
        self.set(framework, "rncp_code", doc.rncp_code, text=False)
        existing = {bloc.key: bloc for bloc in framework.blocs}
        for position, bloc_doc in enumerate(doc.blocs):
            bloc = existing.pop(bloc_doc.key, None)
            if bloc is None:
                bloc = Bloc(key=bloc_doc.key, number=bloc_doc.number, title=bloc_doc.title)
                framework.blocs.append(bloc)
                self.added(bloc, "blocs")
            else:
                self.restore(bloc, "blocs")
            self.bloc(bloc, bloc_doc, position)
        for dropped in existing.values():
            self.retire(dropped, "blocs")
            for competency in dropped.competencies:
                self.retire(competency, "competencies")
            for activity in dropped.activities:
                self.retire(activity, "activities")
            for criterion in dropped.criteria:
                self.retire(criterion, "criteria")

    def bloc(self, bloc: Bloc, doc: BlocDocument, position: int) -> None:
        self.set(bloc, "number", doc.number, text=False)
        self.set(bloc, "title", doc.title)
        self.set(bloc, "description", doc.description)
        self.set(bloc, "optional", doc.optional, text=False)
        self.set(bloc, "option_group", doc.option_group, text=False)
        self.set(bloc, "position", position, text=False)
        self.set(bloc, "modalities", list(doc.modalities))
        self.set(bloc, "competency_list_raw", doc.competency_list_raw)

        activities = {a.key: a for a in bloc.activities}
        by_key: dict[str, Activity] = {}
        for i, activity_doc in enumerate(doc.activities):
            activity = activities.pop(activity_doc.key, None)
            if activity is None:
                activity = Activity(key=activity_doc.key, number=activity_doc.number)
                bloc.activities.append(activity)
                self.added(activity, "activities")
            else:
                self.restore(activity, "activities")
            self.set(activity, "number", activity_doc.number, text=False)
            self.set(activity, "title", activity_doc.title)
            self.set(activity, "position", i, text=False)
            by_key[activity.key] = activity
        for dropped_activity in activities.values():
            self.retire(dropped_activity, "activities")

        competencies = {c.code: c for c in bloc.competencies}
        for i, competency_doc in enumerate(doc.competencies):
            competency = competencies.pop(competency_doc.code, None)
            if competency is None:
                competency = Competency(code=competency_doc.code)
                bloc.competencies.append(competency)
                self.added(competency, "competencies")
            else:
                self.restore(competency, "competencies")
            self.set(competency, "text", competency_doc.text)
            self.set(competency, "position", i, text=False)
            activity_row = by_key.get(competency_doc.activity) if competency_doc.activity else None
            if competency.activity is not activity_row:
                competency.activity = activity_row
                if id(competency) not in self._added:
                    self.changes["details"] += 1
        for dropped_competency in competencies.values():
            self.retire(dropped_competency, "competencies")

        criteria = {c.key: c for c in bloc.criteria}
        for i, criterion_doc in enumerate(doc.criteria):
            criterion = criteria.pop(criterion_doc.key, None)
            if criterion is None:
                criterion = Criterion(key=criterion_doc.key)
                bloc.criteria.append(criterion)
                self.added(criterion, "criteria")
            else:
                self.restore(criterion, "criteria")
            self.set(criterion, "text", criterion_doc.text)
            self.set(criterion, "competency_codes", list(criterion_doc.competencies), text=False)
            self.set(criterion, "position", i, text=False)
        for dropped_criterion in criteria.values():
            self.retire(dropped_criterion, "criteria")


def find_framework(session: Session, key: str) -> Framework | None:
    return session.scalars(
        select(Framework)
        .where(Framework.key == key)
        .options(
            selectinload(Framework.blocs).selectinload(Bloc.activities),
            selectinload(Framework.blocs).selectinload(Bloc.competencies),
            selectinload(Framework.blocs).selectinload(Bloc.criteria),
        )
    ).one_or_none()


def load_document(
    session: Session, doc: FrameworkDocument, *, actor: str = "system", origin: str = ""
) -> LoadResult:
    """Upsert ``doc`` into the session (not committed) and record it in the audit trail.

    ``origin`` says where the document came from (a built-in name, a file path), for
    the audit trail only.
    """
    now = utcnow()
    framework = find_framework(session, doc.key)
    created = framework is None
    if framework is None:
        framework = Framework(key=doc.key, version=doc.version, title=doc.title, loaded_at=now)
        session.add(framework)
    writer = _Writer(now)
    writer.framework(framework, doc)
    framework.content_hash = doc.content_hash()
    status: Status = "created" if created else ("updated" if writer.changes else "unchanged")
    if status != "unchanged":
        # Exports date their content by this field (CASE lastChangeDateTime).
        framework.updated_at = now
    session.flush()
    result = LoadResult(
        framework=framework,
        status=status,
        counts=doc.counts(),
        changes=Counter() if created else writer.changes,
    )
    if status != "unchanged":
        audit.record(
            session,
            "referentiel.loaded" if created else "referentiel.changed",
            actor=actor,
            summary=result.summary(),
            framework=doc.key,
            version=doc.version,
            origin=origin,
            changes=dict(result.changes),
            counts=result.counts,
        )
    return result
