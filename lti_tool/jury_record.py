"""The jury's record of a course (procès-verbal): every deliberation of its learners on
the placed blocs, with each juror who signed, as a table for the certifier.

One row per deliberation, decided or still open, learners in the matrix's order, then
bloc order, oldest sitting first; one group of columns per juror (at least two, the
jury rule's pair). CSV through :func:`lti_tool.spreadsheet_csv.table_csv` and XLSX
through :func:`to_xlsx`, as the class matrix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement.models import JuryDecision, JurySignoff
from lti_tool.charts import bloc_short
from lti_tool.class_matrix import course_learner_ids, course_learners
from lti_tool.competency_states import state_label
from lti_tool.course_scope import Placement
from lti_tool.models import CourseContext
from lti_tool.spreadsheet_xlsx import xlsx_bytes

PANEL = 2  # juror columns shown even when fewer signed: the pair the rule asks for


def jury_table(session: Session, course: CourseContext, placement: Placement) -> list[list[Any]]:
    """Header row, then one row per deliberation of the course's learners."""
    learners = course_learners(session, course)
    bloc_order = {bloc.id: n for n, bloc in enumerate(placement.blocs)}
    # Retired competencies too: a deliberation on one stays on the record.
    codes = {c.id: c.code for bloc in placement.blocs for c in bloc.competencies}
    # The course's learners as a subquery, not a list of ids: two queries whatever the
    # class size (a list would be split into batches of bound parameters).
    of_course = (
        JuryDecision.learner_id.in_(course_learner_ids(course)),
        JuryDecision.bloc_id.in_(list(bloc_order)),
    )
    decisions = session.scalars(select(JuryDecision).where(*of_course)).all()
    signoffs: dict[int, list[JurySignoff]] = {d.id: [] for d in decisions}
    for signoff in session.scalars(
        select(JurySignoff)
        .join(JuryDecision, JuryDecision.id == JurySignoff.jury_decision_id)
        .where(*of_course)
        .order_by(JurySignoff.signed_at, JurySignoff.id)
    ):
        signoffs[signoff.jury_decision_id].append(signoff)
    order = {u.id: n for n, u in enumerate(learners)}
    by_id = {u.id: u for u in learners}
    decisions = sorted(
        (d for d in decisions if d.learner_id in order),  # the course's platform's own
        key=lambda d: (order[d.learner_id], bloc_order[d.bloc_id], d.opened_at, d.id),
    )
    panel = max([PANEL, *(len(signoffs[d.id]) for d in decisions)])
    blocs = {bloc.id: bloc for bloc in placement.blocs}
    rows: list[list[Any]] = [_header(panel)]
    for d in decisions:
        learner = by_id[d.learner_id]
        row: list[Any] = [
            learner.display_name,
            learner.email or "",
            gettext("Bloc %(n)s", n=bloc_short(blocs[d.bloc_id].key)),
            blocs[d.bloc_id].title,
            codes.get(d.competency_id, "") if d.competency_id else "",
            _outcome(d),
            _day(d.decided_at),
        ]
        for n in range(panel):
            row += _juror(signoffs[d.id][n]) if n < len(signoffs[d.id]) else ["", "", "", "", ""]
        rows.append(row)
    return rows


def to_xlsx(table: list[list[Any]]) -> bytes:
    return xlsx_bytes(gettext("Jury"), table, freeze="C2")


def _header(panel: int) -> list[Any]:
    header = [
        gettext("Learner"),
        gettext("Email"),
        gettext("Bloc"),
        gettext("Bloc title"),
        gettext("Competency"),
        gettext("Decision"),
        gettext("Decided on"),
    ]
    for n in range(1, panel + 1):
        header += [
            gettext("Juror %(n)s", n=n),
            gettext("Juror %(n)s external", n=n),
            gettext("Juror %(n)s decision", n=n),
            gettext("Juror %(n)s signed on", n=n),
            gettext("Juror %(n)s comment", n=n),
        ]
    return header


def _outcome(decision: JuryDecision) -> str:
    if decision.status != "decided":
        return gettext("open")
    return state_label("valide" if decision.decision == "validated" else "non_valide")


def _juror(signoff: JurySignoff) -> list[Any]:
    return [
        signoff.juror_name,
        gettext("yes") if signoff.external else gettext("no"),
        gettext("validated") if signoff.decision == "validated" else gettext("not validated"),
        _day(signoff.signed_at),
        signoff.comment,
    ]


def _day(moment: datetime | None) -> str:
    """ISO 8601 (2026-06-30): one reading in every locale, and it sorts."""
    return moment.date().isoformat() if moment is not None else ""
