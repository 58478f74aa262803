"""The trainer's pages for one course: the class matrix, a learner's detail, exports
(the matrix, the jury's record).

The course, platform and référentiel come from ``g.launch`` only; a learner id in a
URL is checked to belong to that course (:func:`lti_tool.course_scope.learner_in_course`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.orm import Session

from lti_tool import charts, jury_record
from lti_tool.access import Role, launch_url, require_launch
from lti_tool.achievement import jury, outbox
from lti_tool.achievement.exceptions import AchievementError
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.charts import bloc_short
from lti_tool.class_matrix import ClassMatrix, MatrixFilters, build_matrix
from lti_tool.competency_states import STATES, cell_markup, state_label, state_symbol
from lti_tool.course_scope import (
    Placement,
    actor_of,
    course_of,
    learner_in_course,
    placement_of,
)
from lti_tool.database import db
from lti_tool.exceptions import LtiToolError, NotFound
from lti_tool.learner_progress import audit_trail, evidence_of, jury_sittings, progress_of
from lti_tool.matrix_export import to_csv, to_xlsx
from lti_tool.models import CourseContext, LtiUser
from lti_tool.spreadsheet_csv import table_csv
from referentiel.exceptions import ReferentielError
from referentiel.models import Bloc, Competency
from referentiel.orm import utcnow

bp = Blueprint("trainer", __name__)

TRAINER_ROLES: tuple[Role, ...] = ("instructor", "admin")
# What a trainer may set by hand ("rules" gives the competency back to the rules);
# valide / non_valide belong to the jury.
OVERRIDABLE_STATES = ("non_acquis", "en_cours", "acquis")


class SignoffDateInvalid(LtiToolError):
    pass


def _matrix() -> tuple[CourseContext, Placement, ClassMatrix]:
    course = course_of(db.session, g.launch)
    placement = placement_of(db.session, g.launch)
    filters = MatrixFilters.parse(request.args.to_dict(), placement)
    matrix = build_matrix(db.session, course, placement, filters, g.launch.resource_link_id)
    return course, placement, matrix


@bp.get("/")
@require_launch(*TRAINER_ROLES)
def dashboard() -> ResponseReturnValue:
    """The class matrix with server-side filters (bloc, state, learner name)."""
    course, placement, matrix = _matrix()
    distribution = charts.distribution_chart(
        [
            (f"{bloc_short(c.bloc.key)}·{c.code}", c.text, matrix.distribution[c.id])
            for c in matrix.competencies
        ]
    )
    return render_template(
        "trainer/dashboard.html",
        course=course,
        placement=placement,
        matrix=matrix,
        distribution=distribution,
        states=list(STATES),
        state_label=state_label,
        state_symbol=state_symbol,
        cells=cell_markup(),
    )


def _learner_page(
    learner_id: int, status: int = 200, error: str | None = None
) -> ResponseReturnValue:
    course = course_of(db.session, g.launch)
    person = learner_in_course(db.session, g.launch, learner_id)
    placement = placement_of(db.session, g.launch)
    progress = progress_of(db.session, person, placement, g.launch.locale)
    timeline = evidence_of(
        db.session, person.id, [c.id for c in placement.competencies], g.launch.locale
    )
    codes = {c.id: f"{bloc_short(c.bloc.key)}·{c.code}" for c in placement.competencies}
    chart = charts.bloc_progress_chart(
        [(bloc_short(b.bloc.key), b.bloc.title, b.reached, b.total) for b in progress.blocs]
    )
    blocs_by_id = {b.id: b for b in placement.blocs}
    return render_template(
        "trainer/learner.html",
        course=course,
        person=person,
        placement=placement,
        progress=progress,
        timeline=timeline,
        codes=codes,
        trail=audit_trail(db.session, person.id),
        sittings=jury_sittings(db.session, person.id, list(blocs_by_id)),
        blocs_by_id=blocs_by_id,
        competencies_by_id={c.id: c for c in placement.competencies},
        overridable=OVERRIDABLE_STATES,
        state_label=state_label,
        today=utcnow().date().isoformat(),
        chart=chart,
        error=error,
        form=request.form if request.method == "POST" else {},
    ), status


@bp.get("/learners/<int:learner_id>")
@require_launch(*TRAINER_ROLES)
def learner(learner_id: int) -> ResponseReturnValue:
    """One learner: progress per bloc, evidence timeline, jury, audit trail."""
    return _learner_page(learner_id)


def _placed_bloc(placement: Placement, key: str) -> Bloc:
    for bloc in placement.blocs:
        if bloc.key == key:
            return bloc
    raise NotFound(gettext("This bloc is not part of what the course placed."))


def _placed_competency(placement: Placement, competency_id: str) -> Competency:
    for competency in placement.competencies:
        if str(competency.id) == competency_id:
            return competency
    raise NotFound(gettext("This competency is not part of what the course placed."))


def _signed_at(value: str) -> datetime | None:
    """The date the juror signed (a date field); None: now."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise SignoffDateInvalid(gettext("The date of the sign-off is not a valid date.")) from None
    if day > utcnow().date():
        raise SignoffDateInvalid(gettext("The date of the sign-off cannot be in the future."))
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


# What a refused form shows back on the learner's page, as a 400 with the reason.
FORM_REFUSALS = (AchievementError, ReferentielError, NotFound, SignoffDateInvalid)


def _record_for_learner(
    learner_id: int, notice: str, record: Callable[[Session, LtiUser, Placement], None]
) -> ResponseReturnValue:
    """Run one trainer form for a learner of this course: all of it commits, or nothing.

    The learner and the placement come from the launch, never from the form alone.
    """
    session = db.session
    person = learner_in_course(session, g.launch, learner_id)
    placement = placement_of(session, g.launch)
    try:
        record(session, person, placement)
        session.commit()
    except FORM_REFUSALS as error:
        session.rollback()
        return _learner_page(learner_id, 400, str(error))
    return redirect(launch_url("trainer.learner", learner_id=person.id, notice=notice), 303)


@bp.post("/learners/<int:learner_id>/signoff")
@require_launch(*TRAINER_ROLES)
def sign_off(learner_id: int) -> ResponseReturnValue:
    """Record a juror's sign-off on a bloc (or one competency) for this learner."""
    form = request.form

    def record(session: Session, person: LtiUser, placement: Placement) -> None:
        bloc = _placed_bloc(placement, form.get("bloc", ""))
        competency = (
            _placed_competency(placement, form["competency"]) if form.get("competency") else None
        )
        jury.sign_off(
            session,
            learner_id=person.id,
            bloc=bloc,
            competency=competency,
            juror_id=form.get("juror_id", ""),
            juror_name=form.get("juror_name", ""),
            external=form.get("external") == "yes",
            decision=form.get("decision", ""),
            comment=form.get("comment", ""),
            signed_at=_signed_at(form.get("signed_on", "")),
            recorded_by=actor_of(session, g.launch),
        )

    return _record_for_learner(learner_id, "signoff", record)


@bp.post("/learners/<int:learner_id>/override")
@require_launch(*TRAINER_ROLES)
def override(learner_id: int) -> ResponseReturnValue:
    """Set a competency's state by hand (or give it back to the rules), with a reason."""
    form = request.form

    def record(session: Session, person: LtiUser, placement: Placement) -> None:
        state = form.get("state", "")
        jury.set_override(
            session,
            learner_id=person.id,
            competency=_placed_competency(placement, form.get("competency", "")),
            state=None if state == "rules" else state,
            reason=form.get("reason", ""),
            actor=actor_of(session, g.launch),
        )

    return _record_for_learner(learner_id, "override", record)


@bp.post("/learners/<int:learner_id>/track")
@require_launch(*TRAINER_ROLES)
def choose_track(learner_id: int) -> ResponseReturnValue:
    """Record which optional Bloc 7 track the learner follows (their total counts it)."""

    def record(session: Session, person: LtiUser, placement: Placement) -> None:
        bloc = _placed_bloc(placement, request.form.get("bloc", ""))
        if not (bloc.optional and bloc.option_group):
            raise NotFound(
                gettext("This bloc is not an optional track: there is nothing to choose.")
            )
        jury.choose_track(
            session, learner_id=person.id, bloc=bloc, actor=actor_of(session, g.launch)
        )

    return _record_for_learner(learner_id, "track", record)


@bp.get("/export.csv")
@require_launch(*TRAINER_ROLES)
def export_csv() -> ResponseReturnValue:
    """The matrix as shown (same filters) in CSV; ``sep=semicolon`` for French Excel."""
    _course, _placement, matrix = _matrix()
    delimiter = ";" if request.args.get("sep") == "semicolon" else ","
    return Response(
        to_csv(matrix, delimiter),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="class-matrix.csv"'},
    )


@bp.get("/export.xlsx")
@require_launch(*TRAINER_ROLES)
def export_xlsx() -> ResponseReturnValue:
    _course, _placement, matrix = _matrix()
    return Response(
        to_xlsx(matrix),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="class-matrix.xlsx"'},
    )


@bp.get("/jury.csv")
@require_launch(*TRAINER_ROLES)
def jury_csv() -> ResponseReturnValue:
    """The jury's record of the course (procès-verbal), for the certifier;
    ``sep=semicolon`` for French Excel."""
    delimiter = ";" if request.args.get("sep") == "semicolon" else ","
    return Response(
        table_csv(_jury_table(), delimiter=delimiter),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="jury-record.csv"'},
    )


@bp.get("/jury.xlsx")
@require_launch(*TRAINER_ROLES)
def jury_xlsx() -> ResponseReturnValue:
    return Response(
        jury_record.to_xlsx(_jury_table()),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="jury-record.xlsx"'},
    )


def _jury_table() -> list[list[Any]]:
    course = course_of(db.session, g.launch)
    return jury_record.jury_table(db.session, course, placement_of(db.session, g.launch))


@bp.post("/gradebook/<int:outbox_id>/retry")
@require_launch(*TRAINER_ROLES)
def retry_sync(outbox_id: int) -> ResponseReturnValue:
    """Queue a learner's failed gradebook score again (only one of this link's learners)."""
    session = db.session
    course = course_of(session, g.launch)
    row = session.get(ScoreOutbox, outbox_id)
    if row is None or row.resource_link_id != g.launch.resource_link_id:
        raise NotFound(gettext("No such gradebook score for this course."))
    learner_in_course(session, g.launch, row.learner_id)
    retried = outbox.retry(
        session, [outbox_id], actor=actor_of(session, g.launch), issuer=course.issuer
    )
    if not retried:
        raise NotFound(gettext("This score is not waiting for a retry."))
    return redirect(launch_url("trainer.dashboard", notice="retry"), 303)
