"""The learner's page: their progress per bloc, the evidence behind it, their data.

Everything is read for ``g.launch``'s own user: no learner id is ever taken from the URL.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, g, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from lti_tool import charts
from lti_tool.access import require_launch
from lti_tool.charts import bloc_short
from lti_tool.course_scope import course_of, placement_of
from lti_tool.database import db
from lti_tool.exceptions import NotFound
from lti_tool.learner_progress import personal_data, progress_of
from lti_tool.models import LtiUser

bp = Blueprint("learner", __name__)


def _me() -> LtiUser:
    user = db.session.get(LtiUser, g.launch.user_id)
    if user is None or user.issuer != g.launch.issuer:
        raise NotFound(
            gettext("Your account is not known to the tool: open it again from the course.")
        )
    return user


@bp.get("/")
@require_launch("learner")
def progress() -> ResponseReturnValue:
    """Progress per bloc, each competency's state and evidence, what remains."""
    course = course_of(db.session, g.launch)
    placement = placement_of(db.session, g.launch)
    mine = progress_of(db.session, _me(), placement, g.launch.locale)
    chart = charts.bloc_progress_chart(
        [(bloc_short(b.bloc.key), b.bloc.title, b.reached, b.total) for b in mine.blocs]
    )
    return render_template(
        "learner/progress.html", course=course, placement=placement, mine=mine, chart=chart
    )


@bp.get("/my-data.json")
@require_launch("learner")
def my_data() -> ResponseReturnValue:
    """Download everything the tool holds about me (RGPD rights of access and portability)."""
    placement = placement_of(db.session, g.launch)
    data = personal_data(db.session, g.launch, placement)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-data.json"',
            "Cache-Control": "no-store",
        },
    )
