"""Launch context carried by cookie or signed token, and role checks on pages."""

from __future__ import annotations

import pytest
from flask import Flask, g

from lti_tool.access import (
    LaunchContext,
    LaunchRequired,
    issue_launch_token,
    read_launch_token,
    require_launch,
)
from lti_tool.exceptions import Forbidden

LEARNER = LaunchContext(
    issuer="https://moodle.test",
    user_id=7,
    context_id=3,
    resource_link_id=2,
    roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",),
    role="learner",
)


def test_launch_token_round_trips(app: Flask) -> None:
    with app.test_request_context():
        assert read_launch_token(issue_launch_token(LEARNER)) == LEARNER


def test_tampered_launch_token_is_refused(app: Flask) -> None:
    with app.test_request_context():
        token = issue_launch_token(LEARNER)
        with pytest.raises(LaunchRequired):
            read_launch_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_token_signed_with_another_secret_is_refused(app: Flask) -> None:
    with app.test_request_context():
        token = issue_launch_token(LEARNER)
    app.config["SECRET_KEY"] = "another-secret"
    with app.test_request_context(), pytest.raises(LaunchRequired):
        read_launch_token(token)


def test_page_without_launch_is_refused(app: Flask) -> None:
    @require_launch("learner")
    def page() -> str:
        return "ok"

    with app.test_request_context("/"), pytest.raises(LaunchRequired):
        page()


def test_learner_cannot_open_an_instructor_page(app: Flask) -> None:
    @require_launch("instructor")
    def page() -> str:
        return "ok"

    with app.test_request_context():
        token = issue_launch_token(LEARNER)
    with app.test_request_context(f"/?lt={token}"), pytest.raises(Forbidden):
        page()


def test_token_in_query_sets_the_launch_for_the_view(app: Flask) -> None:
    @require_launch("learner")
    def page() -> str:
        return str(g.launch.user_id)

    with app.test_request_context():
        token = issue_launch_token(LEARNER)
    with app.test_request_context(f"/?lt={token}"):
        assert page() == "7"
