"""Trainer forms: jury sign-off and override, scoped to the launch's course."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lti_tool.achievement.models import BlocState, CompetencyState, JurySignoff
from lti_tool.database import db
from tests.lti_tool.pages_world import World, trainer_client


def _trainer(app: Flask, world: World) -> tuple[FlaskClient, str, str]:
    return trainer_client(app, world, world.alice.id)


def _sign(client: FlaskClient, lt: str, csrf: str, learner_id: int, **fields: str):  # type: ignore[no-untyped-def]
    data = {"lt": lt, "csrf_token": csrf, "bloc": "bloc-1", "decision": "validated", **fields}
    return client.post(f"/trainer/learners/{learner_id}/signoff", data=data)


def _state(app: Flask, learner_id: int, competency_id: int) -> tuple[str, str] | None:
    with app.app_context():
        row = db.session.scalars(
            select(CompetencyState).where(
                CompetencyState.learner_id == learner_id,
                CompetencyState.competency_id == competency_id,
            )
        ).first()
        return (row.state, row.state_source) if row else None


def _bloc_standing(app: Flask, learner_id: int, bloc_id: int) -> str | None:
    with app.app_context():
        return db.session.scalar(
            select(BlocState.state).where(
                BlocState.learner_id == learner_id, BlocState.bloc_id == bloc_id
            )
        )


def test_two_jurors_one_external_validate_a_bloc_from_the_page(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    first = _sign(client, lt, csrf, world.alice.id, juror_name="Inès Interne", juror_id="ines@cfa")
    assert first.status_code == 303 and "notice=signoff" in first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "La signature a été enregistrée." in page
    assert "il manque un juré extérieur" in page
    # Not decided yet: C3 still what the rules say.
    assert _state(app, world.alice.id, world.competencies[2].id) in (None, ("non_acquis", "rule"))

    second = _sign(
        client, lt, csrf, world.alice.id,
        juror_name="Éric Externe", juror_id="eric@pro", external="yes", comment="Très bien",
    )  # fmt: skip
    assert second.status_code == 303
    assert _bloc_standing(app, world.alice.id, world.competencies[0].bloc_id) == "valide"
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "décidé : Validé par le jury" in page and "jury.signoff" in page


def test_jury_validating_one_competency_shows_in_the_matrix(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    c3 = str(world.competencies[2].id)
    for name, ident, external in (("Inès", "ines@cfa", "no"), ("Éric", "eric@pro", "yes")):
        answer = _sign(
            client, lt, csrf, world.alice.id,
            juror_name=name, juror_id=ident, external=external, competency=c3,
        )  # fmt: skip
        assert answer.status_code == 303
    assert _state(app, world.alice.id, world.competencies[2].id) == ("valide", "jury")
    matrix = client.get("/trainer/", query_string={"lt": lt, "state": "valide"}).get_data(
        as_text=True
    )
    assert "Alice Martin" in matrix and "Bob Durand" not in matrix


def test_signoff_missing_the_juror_is_refused_and_nothing_is_kept(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    answer = _sign(client, lt, csrf, world.alice.id, juror_name="", juror_id="x@y")
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(JurySignoff.id))) == 0


def test_signoff_dated_in_the_future_is_refused(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    answer = _sign(
        client, lt, csrf, world.alice.id, juror_name="A", juror_id="a", signed_on="2999-01-01"
    )
    assert answer.status_code == 400


def test_trainer_cannot_sign_off_for_a_learner_of_another_course(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    answer = _sign(client, lt, csrf, world.zoe.id, juror_name="A", juror_id="a")
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(JurySignoff.id))) == 0


def test_override_needs_a_reason_then_sets_the_state(app: Flask, world: World) -> None:
    client, lt, csrf = _trainer(app, world)
    c3 = world.competencies[2]
    data = {"lt": lt, "csrf_token": csrf, "competency": str(c3.id), "state": "acquis"}
    refused = client.post(f"/trainer/learners/{world.alice.id}/override", data=data)
    assert refused.status_code == 400
    assert _state(app, world.alice.id, c3.id) in (None, ("non_acquis", "rule"))
    done = client.post(
        f"/trainer/learners/{world.alice.id}/override",
        data={**data, "reason": "Observed in the workplace"},
    )
    assert done.status_code == 303
    assert _state(app, world.alice.id, c3.id) == ("acquis", "override")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "fixé manuellement par un formateur" in page


def test_override_of_a_competency_outside_the_placement_is_refused(
    app: Flask, world: World
) -> None:
    client, lt, csrf = _trainer(app, world)
    answer = client.post(
        f"/trainer/learners/{world.alice.id}/override",
        data={
            "lt": lt,
            "csrf_token": csrf,
            "competency": "99999",
            "state": "acquis",
            "reason": "x",
        },
    )
    assert answer.status_code == 400
