"""The admin page's forms: load a référentiel, add and remove mapping rules."""

from __future__ import annotations

import io
import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool import admin_views
from lti_tool.database import db
from referentiel.models import Competency, Framework
from tests.lti_tool.pages_world import (
    ISS_A,
    ISS_B,
    World,
    add_learner,
    launch_for,
    post_quiz_statements,
    token_for,
)
from xapi import credentials
from xapi.exceptions import Unauthorized
from xapi.models import MappingRule


def _admin(app: Flask, world: World) -> str:
    return token_for(app, launch_for(world.admin, world.course_a, world.link_a, "admin"))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _open(client: FlaskClient, lt: str) -> tuple[str, str]:
    html = client.get("/admin/", query_string={"lt": lt}).get_data(as_text=True)
    return html, _csrf(html)


def test_admin_sees_only_own_platform_registrations(
    app: Flask, client: FlaskClient, world: World
) -> None:
    html, _ = _open(client, _admin(app, world))
    assert f"<code>{ISS_A}</code>" in html or ISS_A in html
    assert ISS_B not in html


def test_admin_loads_the_builtin_referentiel(app: Flask, world: World) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    _, csrf = _open(client, lt)
    answer = client.post(
        "/admin/referentiels", data={"lt": lt, "csrf_token": csrf, "builtin": "diplovis-bgdc"}
    )
    assert answer.status_code == 303
    assert "notice=referentiel-loaded" in answer.headers["Location"]
    assert "lt=" in answer.headers["Location"]
    with app.app_context():
        framework = db.session.scalars(select(Framework)).one()
        assert framework.title.startswith("DIPLOVIS - Bachelor en gestion")
        live = db.session.scalar(
            select(func.count(Competency.id)).where(Competency.retired_at.is_(None))
        )
        assert live and live > 50
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Le référentiel a été chargé." in page


def test_bad_uploaded_referentiel_is_refused_with_its_reason_and_nothing_loaded(
    app: Flask, world: World
) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    _, csrf = _open(client, lt)
    bad = io.BytesIO(json.dumps({"format": "lti-tool-referentiel", "id": "x"}).encode())
    answer = client.post(
        "/admin/referentiels",
        data={"lt": lt, "csrf_token": csrf, "file": (bad, "bad.json")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Framework.id))) == 1


def test_admin_adds_and_removes_a_mapping_rule(app: Flask, world: World) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    _, csrf = _open(client, lt)
    iri = "http://tool.test/referentiels/diplovis-bgdc/bloc-1/C2"
    answer = client.post(
        "/admin/mapping-rules",
        data={
            "lt": lt,
            "csrf_token": csrf,
            "activity": "https://moodle-a.test/mod/quiz/view.php?id=77",
            "competency": iri,
        },
    )
    assert answer.status_code == 303
    html, csrf = _open(client, lt)
    assert "https://moodle-a.test/mod/quiz/view.php?id=77" in html and iri in html
    with app.app_context():
        rule_id = db.session.scalars(select(MappingRule.id)).one()
    removed = client.post(
        f"/admin/mapping-rules/{rule_id}/remove", data={"lt": lt, "csrf_token": csrf}
    )
    assert removed.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count(MappingRule.id))) == 0


def test_bad_mapping_rule_is_refused_with_its_reason(app: Flask, world: World) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    _, csrf = _open(client, lt)
    answer = client.post(
        "/admin/mapping-rules",
        data={"lt": lt, "csrf_token": csrf, "activity": "not an iri", "competency": "x"},
    )
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page
    assert 'name="activity" type="url" required size="60" value="not an iri">' in page  # kept


def test_admin_forms_refuse_a_post_without_csrf_token(app: Flask, world: World) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    answer = client.post("/admin/referentiels", data={"lt": lt, "builtin": "diplovis-bgdc"})
    assert answer.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(Framework.title)).one() == "DIPLOVIS - Bachelor test"


def test_trainer_cannot_post_admin_forms(app: Flask, world: World) -> None:
    client = app.test_client(use_cookies=False)
    trainer = token_for(app, launch_for(world.tom, world.course_a, world.link_a, "instructor"))
    page = client.get("/trainer/", query_string={"lt": trainer})
    assert page.status_code == 200
    answer = client.post("/admin/referentiels", data={"lt": trainer, "builtin": "diplovis-bgdc"})
    assert answer.status_code in (400, 403)


def test_credential_secret_is_shown_once_then_works_then_is_revoked(
    app: Flask, world: World
) -> None:
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    _, csrf = _open(client, lt)
    created = client.post(
        "/admin/credentials", data={"lt": lt, "csrf_token": csrf, "name": "Moodle log store"}
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    key = re.search(r"<dt>Clé</dt><dd><code>([^<]+)</code>", html)
    secret = re.search(r"<dt>Secret</dt><dd><code>([^<]+)</code>", html)
    assert key is not None and secret is not None
    with app.app_context():
        credential = credentials.authenticate(db.session, key.group(1), secret.group(1))
        assert credential.platform_issuer == ISS_A
    again, csrf = _open(client, lt)
    assert secret.group(1) not in again and key.group(1) in again
    revoked = client.post(
        f"/admin/credentials/{key.group(1)}/revoke", data={"lt": lt, "csrf_token": csrf}
    )
    assert revoked.status_code == 303
    with app.app_context(), pytest.raises(Unauthorized):
        credentials.authenticate(db.session, key.group(1), secret.group(1))


def test_admin_cannot_revoke_another_platform_credential(app: Flask, world: World) -> None:
    with app.app_context():
        other = credentials.create_credential(db.session, "B's LRS", platform_issuer=ISS_B)
        db.session.commit()
        other_key = other.credential.key
    client = app.test_client(use_cookies=False)
    lt = _admin(app, world)
    html, csrf = _open(client, lt)
    assert other_key not in html
    answer = client.post(
        f"/admin/credentials/{other_key}/revoke", data={"lt": lt, "csrf_token": csrf}
    )
    assert answer.status_code == 404
    with app.app_context():
        assert credentials.authenticate(db.session, other_key, other.secret)


def test_admin_sees_why_their_platforms_statements_gave_no_evidence(
    app: Flask, client: FlaskClient, world: World
) -> None:
    post_quiz_statements(
        app,
        (ISS_A, "555", 12),  # a learner who never launched
        (ISS_A, "555", 13),
        (ISS_A, "102", 99),  # Bob, on a quiz no rule maps
        (ISS_B, "777", 5),  # another platform's: never on A's page
    )

    html, _ = _open(client, _admin(app, world))

    section = html[html.index('id="gaps-heading"') :]
    assert (
        "2 ont donné des preuves, 0 attendent d’être traitées, 3 n’en ont donné aucune." in section
    )
    assert "Apprenants pas encore connus" in section
    assert f"<code>account:{ISS_A}|555</code></th><td>2</td>" in section
    assert "associez-les ci-dessus" in section
    assert re.search(
        rf"<code>{re.escape(ISS_A)}/mod/quiz/view.php\?id=99</code> <a [^>]*>L’associer"
        r".*?</th><td>1</td>",
        section,
    )
    assert ISS_B not in html and "777" not in section


def test_admin_page_explains_only_the_latest_statements_and_says_so(
    app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_views, "GAPS_EXAMINED", 2)
    post_quiz_statements(app, (ISS_A, "555", 12), (ISS_A, "556", 12), (ISS_A, "557", 12))

    html, _ = _open(client, _admin(app, world))

    section = html[html.index('id="gaps-heading"') :]
    assert "3 n’en ont donné aucune." in section
    assert "Ci-dessous, les 2 plus récentes" in section
    assert section.count(f"<code>account:{ISS_A}|55") == 2


def test_the_page_tells_nothing_of_another_platforms_learners(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app.app_context():
        course_b = db.session.merge(world.course_b)
        add_learner(db.session, course_b, "b-7", "Only on B")  # b-7@example.org
        db.session.commit()
    # Platform A's credential, probing two addresses: one of a learner of platform B,
    # one of nobody.
    post_quiz_statements(
        app, ("", "b-7@example.org", 5), ("", "nobody@example.org", 5), platform=ISS_A
    )

    html, _ = _open(client, _admin(app, world))

    section = html[html.index('id="gaps-heading"') :]
    assert "autre plateforme" not in section
    assert "<code>mbox:mailto:b-7@example.org</code></th><td>1</td>" in section
    assert "<code>mbox:mailto:nobody@example.org</code></th><td>1</td>" in section
    assert section.count("<table") == 1  # both under "Apprenants pas encore connus"
    assert "Apprenants pas encore connus" in section


def test_an_unmapped_activity_is_mapped_from_its_link_in_the_report(
    app: Flask, world: World
) -> None:
    client = app.test_client(use_cookies=False)
    quiz = f"{ISS_A}/mod/quiz/view.php?id=99"
    post_quiz_statements(app, (ISS_A, "102", 99))  # Bob, on a quiz no rule maps
    html, _ = _open(client, _admin(app, world))
    section = html[html.index('id="gaps-heading"') :]
    link = re.search(r'<a href="([^"]+)#rules-heading">L’associer', section)
    assert link is not None

    page = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)

    field = re.search(r'<input id="rule-activity"[^>]*value="([^"]*)"', page)
    assert field is not None and field.group(1) == quiz
    lt = re.search(r"lt=([^&\"]+)", link.group(1))
    assert lt is not None
    answer = client.post(
        "/admin/mapping-rules",
        data={
            "lt": lt.group(1),
            "csrf_token": _csrf(page),
            "activity": field.group(1),
            "competency": "http://tool.test/referentiels/diplovis-bgdc/bloc-1/C2",
        },
    )
    assert answer.status_code == 303
    after = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "3 ont donné des preuves, 0 attendent d’être traitées, 0 n’en ont donné aucune." in after
