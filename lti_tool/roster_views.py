"""Refresh a course roster from NRPS, from the trainer dashboard."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, request
from flask.typing import ResponseReturnValue

from lti_tool.access import LAUNCH_TOKEN_PARAM, launch_url, require_launch
from lti_tool.course_scope import course_of
from lti_tool.database import db
from lti_tool.exceptions import Forbidden
from lti_tool.nrps import refresh_roster

bp = Blueprint("roster", __name__)


@bp.post("/lti/roster/refresh")
@require_launch("instructor", "admin")
def refresh() -> ResponseReturnValue:
    # The launch token must come with the form: a cookie alone would let another
    # site's form trigger the refresh (the cookie is SameSite=None over https).
    if not request.values.get(LAUNCH_TOKEN_PARAM):
        raise Forbidden("This form has expired: reload the page.")
    context = course_of(db.session, g.launch)
    refresh_roster(db.session, context, timeout=float(current_app.config["AGS_TIMEOUT_SECONDS"]))
    db.session.commit()
    return redirect(launch_url("trainer.dashboard"), code=303)
