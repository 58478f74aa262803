"""Each learner's gradebook sync state on the dashboard; retries by trainer and admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.achievement.models import ScoreOutbox
from lti_tool.database import db
from tests.lti_tool.pages_world import World, launch_for, token_for


def _queue(app: Flask, link_id: int, learner_id: int, status: str, share: float) -> int:
    with app.app_context():
        row = ScoreOutbox(
            resource_link_id=link_id,
            learner_id=learner_id,
            share=share,
            activity_progress="InProgress",
            grading_progress="FullyGraded",
            score_timestamp=datetime(2026, 3, 5, 10, tzinfo=UTC),
            cause="evidence",
            status=status,
            attempts=8 if status == "dead" else 1,
            last_error="HTTP 503 from the platform" if status == "dead" else None,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def _status(app: Flask, row_id: int) -> str:
    with app.app_context():
        return db.session.scalars(select(ScoreOutbox.status).where(ScoreOutbox.id == row_id)).one()


def _open(client: FlaskClient, path: str, lt: str) -> tuple[str, str]:
    html = client.get(path, query_string={"lt": lt}).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return html, found.group(1)


def test_dashboard_shows_each_learner_sync_state_and_retries_a_failed_one(
    app: Flask, world: World
) -> None:
    dead = _queue(app, world.link_a.id, world.alice.id, "dead", 0.5)
    _queue(app, world.link_a.id, world.bob.id, "delivered", 0.0)
    client = app.test_client(use_cookies=False)
    lt = token_for(app, launch_for(world.tom, world.course_a, world.link_a, "instructor"))
    html, csrf = _open(client, "/trainer/", lt)
    alice_row = re.search(r"Alice Martin.*?</tr>", html, re.S)
    bob_row = re.search(r"Bob Durand.*?</tr>", html, re.S)
    assert alice_row is not None and bob_row is not None
    assert "échec" in alice_row.group(0) and "Réessayer" in alice_row.group(0)
    assert "envoyée" in bob_row.group(0) and "Réessayer" not in bob_row.group(0)

    answer = client.post(f"/trainer/gradebook/{dead}/retry", data={"lt": lt, "csrf_token": csrf})
    assert answer.status_code == 303 and "notice=retry" in answer.headers["Location"]
    assert _status(app, dead) == "pending"
    again = client.post(f"/trainer/gradebook/{dead}/retry", data={"lt": lt, "csrf_token": csrf})
    assert again.status_code == 404  # no longer dead: nothing to retry


def test_trainer_cannot_retry_a_score_of_another_course(app: Flask, world: World) -> None:
    other = _queue(app, world.link_b.id, world.zoe.id, "dead", 1.0)
    client = app.test_client(use_cookies=False)
    lt = token_for(app, launch_for(world.tom, world.course_a, world.link_a, "instructor"))
    _, csrf = _open(client, f"/trainer/learners/{world.alice.id}", lt)
    answer = client.post(f"/trainer/gradebook/{other}/retry", data={"lt": lt, "csrf_token": csrf})
    assert answer.status_code == 404
    assert _status(app, other) == "dead"


def test_admin_sees_dead_letters_of_own_platform_and_retries_them(app: Flask, world: World) -> None:
    mine = _queue(app, world.link_a.id, world.alice.id, "dead", 0.5)
    theirs = _queue(app, world.link_b.id, world.zoe.id, "dead", 1.0)
    client = app.test_client(use_cookies=False)
    lt = token_for(app, launch_for(world.admin, world.course_a, world.link_a, "admin"))
    html, csrf = _open(client, "/admin/", lt)
    assert f"#{mine} " in html and f"#{theirs} " not in html
    assert "HTTP 503 from the platform" in html
    answer = client.post("/admin/outbox/retry", data={"lt": lt, "csrf_token": csrf, "all": "1"})
    assert answer.status_code == 303
    assert _status(app, mine) == "pending" and _status(app, theirs) == "dead"
