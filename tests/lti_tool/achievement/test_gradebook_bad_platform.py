"""Gradebook sync when the platform's token endpoint or AGS service answers badly.

Every malformed answer is a delivery failure with a reason an admin can act on,
retried or dead-lettered as other platform errors are: never an unexpected
exception, never a token or a line item cached from an answer that is not one.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from achievement_world import World
from flask import Flask
from lms.ags import AgsServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.achievement import outbox
from lti_tool.achievement.delivery import Worker
from lti_tool.achievement.models import GradebookLineItem, ScoreOutbox
from lti_tool.achievement.outbox import DeliverySettings
from lti_tool.models.platform_token import PlatformAccessToken
from lti_tool.platform_token import retry_after_seconds
from referentiel.orm import utcnow

FAST = DeliverySettings(
    max_attempts=10, base_delay=0.01, max_delay=0.05, timeout=2.0, lease_seconds=30
)
DEEP = b"[" * 100_000 + b"]" * 100_000


def one_attempt(app: Flask, session: Session, world: World) -> ScoreOutbox:
    """Queue one score, let a worker try it once, and return the row."""
    world.add_link("b3", "bloc-3")
    return attempt_evidence(app, session, world, "bloc-3/C1")


def attempt_evidence(app: Flask, session: Session, world: World, competency: str) -> ScoreOutbox:
    """Evidence for learner u1 on ``competency``, one worker step, the outbox row."""
    world.add_learner("u1")
    world.evidence("u1", competency, score=0.9)
    session.commit()
    with app.app_context():
        sessions = app.extensions["database"]["sessionmaker"]
    Worker(new_session=sessions, settings=FAST, name="w1", poll_seconds=0.05).step()
    session.expire_all()
    row: ScoreOutbox = session.scalars(select(ScoreOutbox)).one()
    return row


# --- Retry-After (RFC 9110 §10.2.3) -----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "²",  # str.isdigit() says yes, int() says no
        "³",
        "1²",
        "Wed, 21 Oct 2015 07:28:00 -0000",  # parsed as a naive datetime
        "9" * 30,
        "9" * 400,  # float() of it is inf
        "-5",
        "soon",
    ],
)
def test_retry_after_never_raises_and_is_bounded(value: str) -> None:
    seconds = retry_after_seconds(value)
    assert seconds is None or 0 <= seconds <= 86400


def test_retry_after_in_the_past_with_minus_zero_zone_is_zero() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0


def test_retry_after_is_capped_at_the_longest_backoff() -> None:
    settings = DeliverySettings(base_delay=2.0, max_delay=600.0)
    assert outbox.backoff(1, settings, retry_after=999_999_999) <= 600.0
    assert outbox.backoff(1, settings, retry_after=float("inf")) <= 600.0
    assert outbox.backoff(1, settings, retry_after=120) >= 120


@pytest.mark.parametrize("value", ["²", "Wed, 21 Oct 2015 07:28:00 -0000", "9" * 30])
def test_an_invalid_retry_after_falls_back_to_the_normal_backoff(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, value: str
) -> None:
    ags.state.fail_next(1, status=429, retry_after=value, paths="scores")
    row = one_attempt(app, session, lms_world)
    assert row.status == "pending" and "answered 429" in row.last_error
    assert row.next_attempt_at <= utcnow() + timedelta(seconds=1)


def test_a_huge_retry_after_does_not_park_a_score_beyond_the_longest_backoff(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    ags.state.fail_next(1, status=429, retry_after="999999999", paths="scores")
    row = one_attempt(app, session, lms_world)
    assert row.status == "pending"
    assert row.next_attempt_at <= utcnow() + timedelta(seconds=FAST.max_delay + 1)


# --- Token endpoint (RFC 6749 §5.1, §5.2; Security Framework §4.1) ----------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"access_token": None, "token_type": "Bearer"}, "access_token"),
        ({"access_token": {"a": 1}, "token_type": "Bearer"}, "access_token"),
        ({"access_token": "", "token_type": "Bearer"}, "access_token"),
        ({"access_token": "two words", "token_type": "Bearer"}, "access_token"),
        ({"access_token": "x" * 10_000, "token_type": "Bearer"}, "access_token"),
        ({"access_token": "abc", "token_type": "mac"}, "token_type"),
        ({"access_token": "abc", "expires_in": "Infinity"}, "expires_in"),
        ({"access_token": "abc", "expires_in": True}, "expires_in"),
        (["access_token", "abc"], "JSON object"),
    ],
)
def test_a_malformed_token_answer_is_a_token_error_and_is_not_cached(
    app: Flask,
    session: Session,
    lms_world: World,
    ags: AgsServer,
    body: object,
    reason: str,
) -> None:
    ags.state.answer_next(1, 200, json.dumps(body).encode(), paths="token")
    row = one_attempt(app, session, lms_world)
    assert row.status == "pending" and "unexpected" not in row.last_error
    assert "token endpoint" in row.last_error and reason in row.last_error
    assert session.scalars(select(PlatformAccessToken)).all() == []
    assert [entry for entry in ags.state.log if entry[1] != "/token"] == []  # nothing sent


@pytest.mark.parametrize("expires_in", [b"Infinity", b"NaN", b"-Infinity"])
def test_a_token_that_never_expires_is_refused(
    app: Flask, session: Session, lms_world: World, ags: AgsServer, expires_in: bytes
) -> None:
    body = b'{"access_token": "abc", "token_type": "Bearer", "expires_in": ' + expires_in + b"}"
    ags.state.answer_next(1, 200, body, paths="token")
    row = one_attempt(app, session, lms_world)
    # Not JSON at all (RFC 8259 has no such numbers), though Python's decoder reads them.
    assert row.status == "pending" and "not JSON" in row.last_error
    assert f"{expires_in.decode()} is not a JSON value" in row.last_error
    assert session.scalars(select(PlatformAccessToken)).all() == []


def test_a_very_long_expires_in_is_clamped(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    ags.state.token_lifetime = 10**20  # the platform's own tokens live that long too
    row = one_attempt(app, session, lms_world)
    assert row.status == "delivered"
    cached = session.scalars(select(PlatformAccessToken)).one()
    assert cached.expires_at <= utcnow() + timedelta(days=1, seconds=1)


def test_token_type_is_compared_case_insensitively(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    row = one_attempt(app, session, lms_world)  # the test platform says "Bearer"
    assert row.status == "delivered"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, b'["invalid_client"]', '["invalid_client"]'),
        (400, DEEP, "refused (400)"),
        (401, b'{"error": ["x"], "error_description": {"y": 1}}', "refused (401)"),
        (200, DEEP, "not JSON"),
    ],
)
def test_an_odd_token_error_body_still_gives_a_reason(
    app: Flask,
    session: Session,
    lms_world: World,
    ags: AgsServer,
    status: int,
    body: bytes,
    reason: str,
) -> None:
    ags.state.answer_next(1, status, body, paths="token")
    row = one_attempt(app, session, lms_world)
    assert "unexpected" not in row.last_error and "token endpoint" in row.last_error
    assert reason in row.last_error and len(row.last_error) < 1000


def test_the_token_request_does_not_follow_a_redirect(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    elsewhere = f"{ags.url}/elsewhere"
    ags.state.answer_next(1, 307, b"", headers={"Location": elsewhere}, paths="token")
    row = one_attempt(app, session, lms_world)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "redirect" in row.last_error and "307" in row.last_error
    assert [entry for entry in ags.state.log if entry[1] == "/elsewhere"] == []


# --- Line items (AGS 2.0 §3.2) ----------------------------------------------------------


def _item(ags: AgsServer, **changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "id": f"{ags.url}/lineitems/1",
        "label": "b3",
        "scoreMaximum": 100,
        "tag": "competences",
        "resourceId": "diplovis-bgdc/bloc-3",
    }
    item.update(changes)
    return item


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"scoreMaximum": "1e400"}, "scoreMaximum"),
        ({"scoreMaximum": 0}, "scoreMaximum"),
        ({"scoreMaximum": -5}, "scoreMaximum"),
        ({"scoreMaximum": "NaN"}, "scoreMaximum"),
        ({"scoreMaximum": 1e12}, "scoreMaximum"),
        ({"scoreMaximum": True}, "scoreMaximum"),
        ({"id": "/lineitems/1"}, "id"),
        ({"id": "https://elsewhere.test/lineitems/1"}, "id"),
        ({"id": "ftp://127.0.0.1/lineitems/1"}, "id"),
        ({"id": None}, "id"),
        ({"label": {"en": "b3"}}, "label"),
    ],
)
def test_an_invalid_created_line_item_is_refused_and_not_cached(
    app: Flask,
    session: Session,
    lms_world: World,
    ags: AgsServer,
    changes: dict[str, object],
    reason: str,
) -> None:
    # The search finds nothing (an empty page), the creation answers the bad item.
    ags.state.answer_next(1, 200, b"[]", paths="lineitems")
    body = json.dumps(_item(ags, **changes)).encode()
    ags.state.answer_next(1, 201, body, paths="lineitems")
    row = one_attempt(app, session, lms_world)
    assert row.status == "dead" and "unexpected" not in row.last_error
    assert "line item" in row.last_error and reason in row.last_error
    assert session.scalars(select(GradebookLineItem)).all() == []
    assert ags.state.accepted == []


def test_a_nan_score_maximum_from_the_launch_line_item_is_refused(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    item = ags.state.add_line_item(label="Référentiel", scoreMaximum=10)
    lms_world.add_link("all", None, lineitem_url=str(item["id"]))
    body = b'{"id": "' + str(item["id"]).encode() + b'", "label": "x", "scoreMaximum": NaN}'
    ags.state.answer_next(1, 200, body, paths="lineitems")
    row = attempt_evidence(app, session, lms_world, "bloc-1/C1")
    # Not JSON at all (RFC 8259 has no NaN), though Python's decoder reads it.
    assert row.status == "dead" and "not JSON (NaN is not a JSON value" in row.last_error
    assert "unexpected" not in row.last_error


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>maintenance</html>", "not JSON"),
        (DEEP, "not JSON"),
        (b'{"id": "x"}', "JSON array"),
        (b"[[1, 2]]", "JSON object"),
        (b'["a"]', "JSON object"),
    ],
)
def test_a_line_item_list_that_is_not_an_array_of_objects_is_refused(
    app: Flask,
    session: Session,
    lms_world: World,
    ags: AgsServer,
    body: bytes,
    reason: str,
) -> None:
    ags.state.answer_next(1, 200, body, paths="lineitems")
    row = one_attempt(app, session, lms_world)
    assert row.status == "dead" and "unexpected" not in row.last_error
    assert reason in row.last_error and len(row.last_error) < 1000
    assert session.scalars(select(GradebookLineItem)).all() == []


def test_a_line_item_cached_with_maximum_zero_is_resolved_again(
    app: Flask, session: Session, lms_world: World, ags: AgsServer
) -> None:
    item = ags.state.add_line_item(
        label="b3",
        scoreMaximum=20,
        tag="competences",
        resourceId="diplovis-bgdc/bloc-3",
        resourceLinkId="rl-b3",
    )
    link = lms_world.add_link("b3", "bloc-3")
    session.add(  # as an earlier version cached it from a platform that said 0
        GradebookLineItem(
            resource_link_id=link.id, lineitem_url=str(item["id"]), score_maximum=0, label="b3"
        )
    )
    assert attempt_evidence(app, session, lms_world, "bloc-3/C1").status == "delivered"
    [score] = ags.state.accepted
    assert score["scoreMaximum"] == 20.0
    assert session.scalars(select(GradebookLineItem)).one().score_maximum == 20.0
