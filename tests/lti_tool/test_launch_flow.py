"""Full LTI 1.3 launches over HTTP against the test LMS on loopback."""

from __future__ import annotations

from sqlalchemy import select

from lti_tool.database import db
from lti_tool.models.people import CourseContext, LtiUser, Membership
from tests.lms.flow import LaunchFlow


def test_learner_launch_opens_the_learner_progress_page(launch_flow: LaunchFlow, live_tool) -> None:  # type: ignore[no-untyped-def]
    page = launch_flow.launch("learner")
    assert page.status_code == 200, page.text
    assert "/learner/" in page.url
    assert "BGDC 2026" in page.text
    with live_tool.app.app_context():
        user = db.session.scalar(select(LtiUser))
        assert user is not None and (user.sub, user.email) == ("2", "ada@example.org")
        context = db.session.scalar(select(CourseContext))
        assert context is not None and context.title == "BGDC 2026"
        membership = db.session.scalar(select(Membership))
        assert membership is not None and membership.is_learner
