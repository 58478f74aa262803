"""The trainer's pages for one course: the class matrix, a learner's detail, exports.

The course, platform and référentiel come from ``g.launch`` only; a learner id in a
URL is checked to belong to that course (:func:`lti_tool.course_scope.learner_in_course`).
"""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool import charts
from lti_tool.access import Role, require_launch
from lti_tool.class_matrix import ClassMatrix, MatrixFilters, build_matrix
from lti_tool.competency_states import STATES, state_label, state_symbol
from lti_tool.course_scope import Placement, course_of, learner_in_course, placement_of
from lti_tool.database import db
from lti_tool.learner_progress import audit_trail, evidence_of, progress_of
from lti_tool.matrix_export import to_csv, to_xlsx
from lti_tool.models import CourseContext

bp = Blueprint("trainer", __name__)

TRAINER_ROLES: tuple[Role, ...] = ("instructor", "admin")


def _matrix() -> tuple[CourseContext, Placement, ClassMatrix]:
    course = course_of(db.session, g.launch)
    placement = placement_of(db.session, g.launch)
    filters = MatrixFilters.parse(request.args.to_dict(), placement)
    return course, placement, build_matrix(db.session, course, placement, filters)


@bp.get("/")
@require_launch(*TRAINER_ROLES)
def dashboard() -> ResponseReturnValue:
    """The class matrix with server-side filters (bloc, state, learner name)."""
    course, placement, matrix = _matrix()
    distribution = charts.distribution_chart(
        [(c.code, c.text, matrix.distribution[c.id]) for c in matrix.competencies]
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
    )


@bp.get("/learners/<int:learner_id>")
@require_launch(*TRAINER_ROLES)
def learner(learner_id: int) -> ResponseReturnValue:
    """One learner: progress per bloc, evidence timeline, audit trail."""
    course = course_of(db.session, g.launch)
    person = learner_in_course(db.session, g.launch, learner_id)
    placement = placement_of(db.session, g.launch)
    progress = progress_of(db.session, person, placement, g.launch.locale)
    timeline = evidence_of(
        db.session, person.id, [c.id for c in placement.competencies], g.launch.locale
    )
    codes = {c.id: f"{c.bloc.number}·{c.code}" for c in placement.competencies}
    chart = charts.bloc_progress_chart(
        [(f"{b.bloc.number}", b.bloc.title, b.reached, b.total) for b in progress.blocs]
    )
    return render_template(
        "trainer/learner.html",
        course=course,
        person=person,
        progress=progress,
        timeline=timeline,
        codes=codes,
        trail=audit_trail(db.session, person.id),
        chart=chart,
    )


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
