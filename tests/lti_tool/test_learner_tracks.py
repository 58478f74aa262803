"""Bloc 7 tracks: a trainer records the one a learner follows; totals count only that one.

The page world gets two optional blocs in one option group: bloc-7a (2 competencies)
and bloc-7b (3). Mandatory blocs hold 6 competencies, so a learner's total is 8 when
they follow 7a, 9 when they follow 7b (never 11: both tracks).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from lti_tool.achievement.gradebook import link_score
from lti_tool.achievement.models import LearnerTrack
from lti_tool.csrf import FIELD_NAME, launch_binding
from lti_tool.database import db
from lti_tool.models import ResourceLink
from referentiel.audit import AuditEvent
from referentiel.models import Bloc, Competency, Framework
from tests.lti_tool.pages_world import (
    World,
    add_evidence,
    launch_for,
    token_for,
    trainer_client,
)
from xapi.signals import evidence_changed


@pytest.fixture
def tracked(app: Flask, world: World) -> World:
    with app.app_context():
        framework = db.session.get(Framework, world.framework.id)
        assert framework is not None
        code = 100
        for position, (key, count) in enumerate((("bloc-7a", 2), ("bloc-7b", 3)), start=7):
            bloc = Bloc(
                framework=framework,
                key=key,
                number=7,
                title=f"Parcours {key}",
                position=position,
                optional=True,
                option_group="bloc-7",
            )
            for _ in range(count):
                code += 1
                bloc.competencies.append(
                    Competency(code=f"C{code}", text=f"Track competency {code}", position=code)
                )
            db.session.add(bloc)
        db.session.commit()
    return world


def _trainer(app: Flask, world: World) -> tuple[FlaskClient, str, str]:
    return trainer_client(app, world, world.bob.id)


def _choose(client: FlaskClient, lt: str, csrf: str, learner_id: int, bloc: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/trainer/learners/{learner_id}/track", data={"lt": lt, "csrf_token": csrf, "bloc": bloc}
    )


def _matrix_count(client: FlaskClient, lt: str, name: str) -> tuple[str, str]:
    html = client.get("/trainer/", query_string={"lt": lt}).get_data(as_text=True)
    found = re.search(
        re.escape(name) + r'</a> <span class="count">(\d+/\d+)</span>(.*?)</th>', html
    )
    assert found is not None
    return found.group(1), found.group(2)


def _tracks(app: Flask, learner_id: int) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(LearnerTrack.bloc_id).where(LearnerTrack.learner_id == learner_id)
            )
        )


def _gradebook_total(app: Flask, world: World, learner_id: int) -> int:
    with app.app_context():
        link = db.session.get(ResourceLink, world.link_a.id)
        assert link is not None
        score = link_score(db.session, link, learner_id)
        assert score is not None
        return score.total


def test_without_a_track_the_matrix_counts_one_track_and_says_it_is_not_chosen(
    app: Flask, tracked: World
) -> None:
    client, lt, _csrf = _trainer(app, tracked)
    count, note = _matrix_count(client, lt, "Bob Durand")
    assert count == "0/8" and "parcours non choisi" in note
    assert _gradebook_total(app, tracked, tracked.bob.id) == 8


def test_trainer_records_the_track_and_every_total_follows_it(app: Flask, tracked: World) -> None:
    client, lt, csrf = _trainer(app, tracked)
    answer = _choose(client, lt, csrf, tracked.bob.id, "bloc-7b")
    assert answer.status_code == 303 and "notice=track" in answer.headers["Location"]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Le parcours suivi par l’apprenant a été enregistré." in page
    assert "Compétences atteintes dans le référentiel : 0 sur 9" in page
    assert "Parcours suivi : bloc 7b (choisi)" in page
    assert "track.chosen" in page  # the audit trail shows it
    count, note = _matrix_count(client, lt, "Bob Durand")
    assert count == "0/9" and "parcours non choisi" not in note
    assert _gradebook_total(app, tracked, tracked.bob.id) == 9
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.kind == "track.chosen", AuditEvent.learner_id == tracked.bob.id
                )
            )
            == 1
        )

    learner = app.test_client(use_cookies=False)
    lt_bob = token_for(app, launch_for(tracked.bob, tracked.course_a, tracked.link_a, "learner"))
    mine = learner.get("/learner/", query_string={"lt": lt_bob}).get_data(as_text=True)
    assert "Compétences atteintes dans le référentiel : 0 sur 9" in mine
    assert "parcours que vous ne suivez pas : hors de votre total" in mine


def test_track_is_inferred_from_the_achievement_when_none_is_recorded(
    app: Flask, tracked: World
) -> None:
    with app.app_context():
        competency = db.session.scalar(select(Competency).where(Competency.code == "C103"))
        assert competency is not None  # the first competency of bloc-7b
        learner = db.session.merge(tracked.bob)
        add_evidence(db.session, learner, competency, score=0.95)
        db.session.flush()
        evidence_changed.send(db.session, touched={(learner.id, competency.id)})
        db.session.commit()
    client, lt, _csrf = _trainer(app, tracked)
    count, note = _matrix_count(client, lt, "Bob Durand")
    assert count.endswith("/9") and "parcours non choisi" not in note
    page = client.get(f"/trainer/learners/{tracked.bob.id}", query_string={"lt": lt})
    assert "Parcours suivi : bloc 7b (déduit des acquis)" in page.get_data(as_text=True)
    assert _gradebook_total(app, tracked, tracked.bob.id) == 9


def test_trainer_cannot_choose_the_track_of_a_learner_of_another_course(
    app: Flask, tracked: World
) -> None:
    client, lt, csrf = _trainer(app, tracked)
    answer = _choose(client, lt, csrf, tracked.zoe.id, "bloc-7a")
    assert answer.status_code == 404
    assert _tracks(app, tracked.zoe.id) == []


def test_a_mandatory_bloc_is_not_a_track_and_nothing_is_kept(app: Flask, tracked: World) -> None:
    client, lt, csrf = _trainer(app, tracked)
    answer = _choose(client, lt, csrf, tracked.bob.id, "bloc-1")
    assert answer.status_code == 400
    assert "n’est pas un parcours optionnel" in answer.get_data(as_text=True)
    assert _tracks(app, tracked.bob.id) == []


def test_choosing_a_track_without_the_csrf_token_is_refused(app: Flask, tracked: World) -> None:
    client, lt, _csrf = _trainer(app, tracked)
    answer = client.post(
        f"/trainer/learners/{tracked.bob.id}/track", data={"lt": lt, "bloc": "bloc-7a"}
    )
    assert answer.status_code == 400
    assert _tracks(app, tracked.bob.id) == []


def test_a_learner_cannot_choose_a_track(app: Flask, tracked: World) -> None:
    client = app.test_client(use_cookies=False)
    launch = launch_for(tracked.bob, tracked.course_a, tracked.link_a, "learner")
    lt = token_for(app, launch)
    with app.test_request_context():
        session[FIELD_NAME] = launch_binding(launch)
        csrf = generate_csrf()  # a valid token for the learner's own launch
    answer = _choose(client, lt, csrf, tracked.bob.id, "bloc-7a")
    assert answer.status_code == 403
    assert _tracks(app, tracked.bob.id) == []
