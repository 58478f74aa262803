"""Learner, trainer and admin pages: who sees what, in which language, inside which frame."""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import event

from lti_tool.database import db
from lti_tool.models import CourseContext, LtiUser
from tests.lti_tool.pages_world import (
    ISS_A,
    ISS_B,
    World,
    add_evidence,
    add_learner,
    launch_for,
    token_for,
)
from xapi.signals import evidence_changed


def _get(client: FlaskClient, app: Flask, launch, path: str, **params: str):  # type: ignore[no-untyped-def]
    return client.get(path, query_string={"lt": token_for(app, launch), **params})


def _rename(app: Flask, user_id: int, name: str) -> None:
    with app.app_context():
        user = db.session.get(LtiUser, user_id)
        assert user is not None
        user.name = name
        db.session.commit()


def learner_launch(world: World, locale: str = "fr"):  # type: ignore[no-untyped-def]
    return launch_for(world.alice, world.course_a, world.link_a, "learner", locale)


def trainer_launch(world: World, locale: str = "fr"):  # type: ignore[no-untyped-def]
    return launch_for(world.tom, world.course_a, world.link_a, "instructor", locale)


def test_learner_sees_own_states_evidence_and_what_remains(
    app: Flask, client: FlaskClient, world: World
) -> None:
    page = _get(client, app, learner_launch(world), "/learner/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ma progression" in html
    assert "Quiz prospection" in html and "Jeu de rôle" in html
    assert "Secret of course B" not in html
    assert "En cours" in html and "Non acquis" in html and "Acquis" in html
    assert "Reste à atteindre" in html


def test_learner_page_refuses_a_trainer_launch_and_no_launch(
    app: Flask, client: FlaskClient, world: World
) -> None:
    assert client.get("/learner/").status_code == 401
    assert _get(client, app, trainer_launch(world), "/trainer/").status_code == 200
    learner = learner_launch(world)
    assert _get(client, app, learner, "/trainer/").status_code == 403
    assert _get(client, app, learner, "/admin/").status_code == 403


def test_download_my_data_holds_only_my_data(app: Flask, client: FlaskClient, world: World) -> None:
    answer = _get(client, app, learner_launch(world), "/learner/my-data.json")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    data = answer.get_json()
    assert data["person"]["name"] == "Alice Martin"
    assert data["person"]["platform"] == ISS_A
    assert len(data["statements"]) == 2
    assert "Secret of course B" not in answer.get_data(as_text=True)
    states = {c["code"]: c["state"] for b in data["progress"] for c in b["competencies"]}
    assert (states["C1"], states["C2"], states["C3"]) == ("acquis", "en_cours", "non_acquis")


def test_trainer_matrix_lists_course_learners_only(
    app: Flask, client: FlaskClient, world: World
) -> None:
    html = _get(client, app, trainer_launch(world), "/trainer/").get_data(as_text=True)
    assert "Alice Martin" in html and "Bob Durand" in html
    assert "Zoé Other" not in html and "Tom Trainer" not in html
    assert '<th scope="col"' in html and '<th scope="row"' in html and "<caption" in html


def test_trainer_filters_work_without_javascript(
    app: Flask, client: FlaskClient, world: World
) -> None:
    launch = trainer_launch(world)
    by_name = _get(client, app, launch, "/trainer/", name="bob").get_data(as_text=True)
    assert "Bob Durand" in by_name and "Alice Martin" not in by_name
    by_state = _get(client, app, launch, "/trainer/", state="en_cours").get_data(as_text=True)
    assert "Alice Martin" in by_state and "Bob Durand" not in by_state
    by_bloc = _get(client, app, launch, "/trainer/", bloc="bloc-2").get_data(as_text=True)
    assert ">C4<" in by_bloc and ">C1<" not in by_bloc


def test_trainer_cannot_open_another_course_learner_by_editing_the_url(
    app: Flask, client: FlaskClient, world: World
) -> None:
    launch = trainer_launch(world)
    assert _get(client, app, launch, f"/trainer/learners/{world.alice.id}").status_code == 200
    other = _get(client, app, launch, f"/trainer/learners/{world.zoe.id}")
    assert other.status_code == 404
    assert "Secret of course B" not in other.get_data(as_text=True)
    # Nor a trainer of the course (not a learner), nor an id that does not exist.
    assert _get(client, app, launch, f"/trainer/learners/{world.tom.id}").status_code == 404
    assert _get(client, app, launch, "/trainer/learners/99999").status_code == 404


def test_launch_claiming_a_course_of_another_issuer_is_refused(
    app: Flask, client: FlaskClient, world: World
) -> None:
    forged = launch_for(world.tom, world.course_b, world.link_b, "instructor")
    assert _get(client, app, forged, "/trainer/").status_code == 404


def test_learner_detail_shows_timeline_and_trail(
    app: Flask, client: FlaskClient, world: World
) -> None:
    html = _get(client, app, trainer_launch(world), f"/trainer/learners/{world.alice.id}").get_data(
        as_text=True
    )
    assert "Chronologie des preuves" in html and "Journal d’audit" in html
    assert html.index("Jeu de rôle") < html.index("Quiz prospection")  # newest first


def test_csv_export_has_bom_semicolons_and_neutralised_formulas(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _rename(app, world.bob.id, '=HYPERLINK("http://evil")')
    answer = _get(client, app, trainer_launch(world), "/trainer/export.csv", sep="semicolon")
    assert answer.status_code == 200
    assert answer.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Apprenant", "Courriel", "Compétences atteintes"]
    names = [r[0] for r in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in names


def test_xlsx_export_writes_text_never_formulas(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _rename(app, world.bob.id, "=1+1")
    answer = _get(client, app, trainer_launch(world), "/trainer/export.xlsx")
    sheet = load_workbook(io.BytesIO(answer.data)).active
    values = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert "=1+1" in values
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_language_follows_the_launch_locale(app: Flask, client: FlaskClient, world: World) -> None:
    fr = _get(client, app, learner_launch(world, "fr-FR"), "/learner/").get_data(as_text=True)
    en = _get(client, app, learner_launch(world, "en-GB"), "/learner/").get_data(as_text=True)
    assert '<html lang="fr">' in fr and "Ma progression" in fr
    assert '<html lang="en">' in en and "My progress" in en and "Ma progression" not in en
    other = _get(client, app, learner_launch(world, "de-DE"), "/learner/").get_data(as_text=True)
    assert '<html lang="fr">' in other


def test_csp_lets_the_registered_platforms_frame_the_pages(
    app: Flask, client: FlaskClient, world: World
) -> None:
    answer = _get(client, app, learner_launch(world), "/learner/")
    csp = answer.headers["Content-Security-Policy"]
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp)
    assert ancestors is not None
    allowed = ancestors.group(1).split()
    assert "'self'" in allowed and ISS_A in allowed and ISS_B in allowed
    assert "X-Frame-Options" not in answer.headers
    assert "script-src 'self'" in csp


def test_admin_page_lists_platforms_and_registration_urls(
    app: Flask, client: FlaskClient, world: World
) -> None:
    launch = launch_for(world.admin, world.course_a, world.link_a, "admin")
    html = _get(client, app, launch, "/admin/").get_data(as_text=True)
    assert ISS_A in html
    assert "http://tool.test/lti/login" in html and "http://tool.test/lti/jwks" in html


@pytest.mark.parametrize("path", ["/learner/", "/trainer/", "/admin/"])
def test_pages_have_a_skip_link_landmarks_and_one_h1(
    app: Flask, client: FlaskClient, world: World, path: str
) -> None:
    role = {"/learner/": "learner", "/trainer/": "instructor", "/admin/": "admin"}[path]
    user = {"learner": world.alice, "instructor": world.tom, "admin": world.admin}[role]
    html = _get(client, app, launch_for(user, world.course_a, world.link_a, role), path).get_data(
        as_text=True
    )
    assert 'href="#main"' in html and '<main id="main"' in html and "<nav" in html
    assert html.count("<h1") == 1
    # Every link to another page carries the launch token (no cookie needed).
    for href in re.findall(r'href="(/(?:learner|trainer|admin)[^"]*)"', html):
        assert "lt=" in href, href


def _queries_for_matrix(app: Flask, client: FlaskClient, world: World) -> int:
    engine = app.extensions["database"]["engine"]
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert _get(client, app, trainer_launch(world), "/trainer/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def _add_learners(app: Flask, world: World, n: int, prefix: str) -> None:
    with app.app_context():
        course = db.session.get(CourseContext, world.course_a.id)
        assert course is not None
        for i in range(n):
            learner = add_learner(db.session, course, f"{prefix}-{i}", f"Extra {prefix} {i}")
            db.session.flush()
            competency = world.competencies[i % len(world.competencies)]
            add_evidence(db.session, learner, competency, score=0.8)
            db.session.flush()
            evidence_changed.send(db.session, touched={(learner.id, competency.id)})
        db.session.commit()


def test_matrix_query_count_does_not_grow_with_the_class(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _add_learners(app, world, 1, "a")  # 3 learners
    small = _queries_for_matrix(app, client, world)
    _add_learners(app, world, 27, "b")  # 30 learners
    large = _queries_for_matrix(app, client, world)
    assert small == large
