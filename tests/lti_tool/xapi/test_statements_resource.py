"""The Statements and About resources over HTTP (xAPI 1.0.3 Communication §2.1, §2.8)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from xapi_lrs_client import Lrs, basic

from lti_tool.database import db, make_engine
from xapi.models import DerivationQueue, Statement

Sample = Callable[[str], dict[str, Any]]
CountRows = Callable[[type[Any]], int]
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def test_about_answers_without_credentials_and_lists_1_0_3(client: FlaskClient) -> None:
    response = client.get("/xapi/about")
    assert response.status_code == 200
    assert "1.0.3" in response.json["version"]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_request_without_version_header_must_get_400_with_version_header(
    client: FlaskClient, credential: tuple[str, str]
) -> None:
    response = client.get("/xapi/statements", headers={"Authorization": basic(*credential)})
    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json["error"]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    assert "X-Experience-API-Consistent-Through" in response.headers


def test_unsupported_version_header_is_400(lrs: Lrs) -> None:
    response = lrs.client.get(
        "/xapi/statements", headers=lrs.headers(**{"X-Experience-API-Version": "0.95"})
    )
    assert response.status_code == 400


def test_version_2_0_0_is_accepted_and_answered_in_kind(lrs: Lrs, sample: Sample) -> None:
    response = lrs.post(sample("h5p_answered"), **{"X-Experience-API-Version": "2.0.0"})
    assert response.status_code == 200
    assert response.headers["X-Experience-API-Version"] == "2.0.0"


def test_post_must_return_ids_in_order_and_keep_each_statement_exactly(
    lrs: Lrs, sample: Sample, app: Flask
) -> None:
    batch = [sample("moodle_quiz_completed"), sample("h5p_answered"), sample("cmi5_passed")]
    body = json.dumps(batch, indent=1, ensure_ascii=False)
    response = lrs.post(body)
    assert response.status_code == 200
    ids = response.json
    assert len(ids) == 3 and ids[2] == "2f1c7d8a-6b1e-4f0a-9a43-3f5a0e9b7c21"
    with app.app_context():
        rows = {row.id: row for row in db.session.scalars(select(Statement)).all()}
    # The exact JSON text of each element is kept, indentation and accents included.
    assert rows[ids[0]].raw == json.dumps(batch[0], indent=1, ensure_ascii=False).replace(
        "\n", "\n "
    )
    assert json.loads(rows[ids[1]].raw) == batch[1]


def test_lrs_must_set_id_stored_timestamp_authority_and_version(
    lrs: Lrs, sample: Sample, credential: tuple[str, str]
) -> None:
    statement = sample("h5p_answered")
    [ident] = lrs.post(statement).json
    got = lrs.get(statementId=ident)
    assert got.status_code == 200
    document = got.json
    assert document["id"] == ident
    assert document["timestamp"] == document["stored"]  # no timestamp was given
    assert document["version"] == "1.0.0"
    assert document["authority"]["account"]["name"] == credential[0]
    # Millisecond precision, UTC (Data §4.5).
    assert len(document["stored"]) == len("2026-01-01T00:00:00.000Z")
    assert document["stored"].endswith("Z")
    assert got.headers["Last-Modified"]
    assert "X-Experience-API-Consistent-Through" in got.headers


def test_ids_the_lrs_assigns_grow_with_time(lrs: Lrs, sample: Sample) -> None:
    """Time-ordered (version 7) UUIDs, which xAPI accepts, are appended at the end of the
    statements' primary key instead of anywhere in it."""
    [first] = lrs.post(sample("h5p_answered")).json
    time.sleep(0.002)
    [second, third] = lrs.post([sample("moodle_quiz_completed"), sample("h5p_answered")]).json
    assert first < second and first < third
    assert {uuid.UUID(ident).version for ident in (first, second, third)} == {7}
    assert lrs.get(statementId=second).json["id"] == second


def test_timestamp_is_returned_as_given(lrs: Lrs, sample: Sample) -> None:
    [ident] = lrs.post(sample("moodle_quiz_completed")).json
    assert lrs.get(statementId=ident).json["timestamp"] == "2026-03-02T09:15:27+01:00"


def test_put_must_store_under_statement_id_and_return_204(lrs: Lrs, sample: Sample) -> None:
    ident = "7b1ad1b4-3b38-4e0f-9d43-8a7f5f0fc0a1"
    response = lrs.put(ident, sample("h5p_answered"))
    assert response.status_code == 204 and response.data == b""
    assert lrs.get(statementId=ident).json["id"] == ident


def test_put_refuses_a_body_id_other_than_the_parameter(lrs: Lrs, sample: Sample) -> None:
    response = lrs.put("7b1ad1b4-3b38-4e0f-9d43-8a7f5f0fc0a1", sample("cmi5_passed"))
    assert response.status_code == 400
    assert "statementId" in response.json["error"]


def test_put_without_statement_id_is_400(lrs: Lrs, sample: Sample) -> None:
    response = lrs.client.put(
        "/xapi/statements",
        data=json.dumps(sample("h5p_answered")),
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400


def test_same_id_with_equivalent_content_must_be_accepted_without_a_second_copy(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    first = sample("cmi5_passed")
    first["actor"] = {
        "objectType": "Group",
        "member": [
            {"mbox": "mailto:ada.martin@example.org"},
            {"account": {"homePage": "https://moodle.example.org", "name": "43"}},
        ],
    }
    assert lrs.post(first).status_code == 200
    again = sample("cmi5_passed")
    again["actor"] = {"objectType": "Group", "member": list(reversed(first["actor"]["member"]))}
    again["id"] = again["id"].upper()
    again["timestamp"] = "2026-03-02T12:02:11.120+02:00"  # same instant, other offset
    again["context"]["registration"] = again["context"]["registration"].upper()
    again["verb"]["display"] = {"EN-us": "passed"}
    assert lrs.post(again).status_code == 200
    assert lrs.put(first["id"], again).status_code == 204
    assert count_rows(Statement) == 1


def test_same_id_with_different_content_must_get_409(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    assert lrs.post(statement).status_code == 200
    statement["result"]["score"]["scaled"] = 0.2
    response = lrs.post(statement)
    assert response.status_code == 409
    assert statement["id"] in response.json["error"]
    assert lrs.put(statement["id"], statement).status_code == 409


def test_batch_is_all_or_nothing(lrs: Lrs, sample: Sample, count_rows: CountRows) -> None:
    bad = sample("h5p_answered")
    bad["result"]["score"]["scaled"] = 5
    response = lrs.post([sample("moodle_quiz_completed"), bad])
    assert response.status_code == 400
    assert "statements[1].result.score.scaled" in response.json["error"]
    assert count_rows(Statement) == 0


def test_batch_with_a_conflict_stores_nothing(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    stored = sample("cmi5_passed")
    lrs.post(stored)
    changed = sample("cmi5_passed")
    changed["verb"]["id"] = "http://adlnet.gov/expapi/verbs/failed"
    assert lrs.post([sample("h5p_answered"), changed]).status_code == 409
    assert count_rows(Statement) == 1


def test_the_same_id_twice_in_one_batch_is_400(lrs: Lrs, sample: Sample) -> None:
    assert lrs.post([sample("cmi5_passed"), sample("cmi5_passed")]).status_code == 400


def test_timestamp_with_minus_zero_offset_must_be_rejected(lrs: Lrs, sample: Sample) -> None:
    statement = sample("h5p_answered")
    statement["timestamp"] = "2026-03-02T10:02:11.120-00:00"
    response = lrs.post(statement)
    assert response.status_code == 400
    assert "statement.timestamp" in response.json["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('"a string"', "application/json", "JSON object"),
        ("[1, 2]", "application/json", "JSON object"),
        ("", "application/json", "no statement"),
        ("{}", "text/plain", "Content-Type"),
        ('{"actor": {}} trailing', "application/json", "not valid JSON"),
        ('{"result": {"score": {"raw": 1' + "0" * 5000 + "}}}", "application/json", "not valid"),
    ],
)
def test_malformed_bodies_get_400_never_422(
    lrs: Lrs, body: str, content_type: str, reason: str
) -> None:
    response = lrs.post(body, **{"Content-Type": content_type})
    assert response.status_code == 400
    assert reason in response.json["error"]


def test_statements_without_credentials_must_get_401(client: FlaskClient) -> None:
    response = client.get("/xapi/statements", headers={"X-Experience-API-Version": "1.0.3"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_secret_or_unknown_key_gets_401(
    client: FlaskClient, credential: tuple[str, str]
) -> None:
    key, _secret = credential
    # A NUL in the key: PostgreSQL cannot compare text with one (it was a 500 there).
    guesses = (basic(key, "wrong"), basic("unknown", "x"), basic(key + "\x00", "x"))
    for auth in (*guesses, "Basic !!!", "Bearer abc"):
        response = client.get(
            "/xapi/statements",
            headers={"X-Experience-API-Version": "1.0.3", "Authorization": auth},
        )
        assert response.status_code == 401, auth


def test_revoked_credential_gets_401(lrs: Lrs, runner: Any, sample: Sample) -> None:
    from lti_tool.cli import main

    assert runner.invoke(main, ["xapi", "credentials", "revoke", lrs.key]).exit_code == 0
    response = lrs.post(sample("h5p_answered"))
    assert response.status_code == 401
    assert "revoked" in response.json["error"]


def test_platform_bound_credential_refused_for_another_platforms_learner(
    client: FlaskClient, app: Flask, sample: Sample, count_rows: CountRows
) -> None:
    from xapi.credentials import create_credential

    with app.app_context():
        issued = create_credential(db.session, "Moodle A", "https://moodle-a.example.org")
        db.session.commit()
    bound = Lrs(client, issued.credential.key, issued.secret)
    statement = sample("moodle_quiz_completed")  # actor of https://moodle.example.org
    response = bound.post(statement)
    assert response.status_code == 403
    assert "https://moodle-a.example.org" in response.json["error"]
    statement["actor"]["account"]["homePage"] = "https://moodle-a.example.org/"
    assert bound.post(statement).status_code == 200
    assert count_rows(Statement) == 1


def queued(app: Flask) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(select(DerivationQueue.statement_id).order_by(DerivationQueue.id))
        )


def test_storing_queues_each_new_statement_for_derivation(
    app: Flask, lrs: Lrs, sample: Sample
) -> None:
    app.config["EVIDENCE_DERIVATION"] = "worker"  # leave the queue for the worker
    ids = lrs.post([sample("h5p_answered"), sample("cmi5_passed")]).json
    lrs.post(sample("cmi5_passed"))  # identical again: nothing new
    bad = sample("h5p_answered")
    del bad["verb"]
    assert lrs.post([sample("moodle_quiz_completed"), bad]).status_code == 400
    assert queued(app) == ids


def void(lrs: Lrs, target: str) -> Any:
    return lrs.post(
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target},
        }
    )


def test_voided_statement_is_only_returned_by_voided_statement_id(
    app: Flask, lrs: Lrs, sample: Sample
) -> None:
    app.config["EVIDENCE_DERIVATION"] = "worker"
    [target] = lrs.post(sample("h5p_answered")).json
    [voiding] = void(lrs, target).json
    assert queued(app) == [target, voiding, target]  # the target again, to withdraw
    assert lrs.get(statementId=target).status_code == 404
    assert lrs.get(voidedStatementId=target).json["id"] == target
    assert lrs.get(voidedStatementId=voiding).status_code == 404
    listed = [s["id"] for s in lrs.get().json["statements"]]
    assert target not in listed and voiding in listed


def test_a_voiding_statement_cannot_be_voided(lrs: Lrs, sample: Sample) -> None:
    [target] = lrs.post(sample("h5p_answered")).json
    [voiding] = void(lrs, target).json
    response = void(lrs, voiding)
    assert response.status_code == 400
    assert "cannot be voided" in response.json["error"]


def test_voiding_an_unknown_statement_is_accepted(lrs: Lrs) -> None:
    assert void(lrs, "0b0e8e3c-8a5e-4d8b-9f8e-1c2d3e4f5a6b").status_code == 200


def test_voiding_statement_needs_a_statement_ref(lrs: Lrs) -> None:
    response = lrs.post(
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": VOIDED},
            "object": {"id": "http://example.org/activity"},
        }
    )
    assert response.status_code == 400


def test_get_by_id_with_other_parameters_is_400(lrs: Lrs, sample: Sample) -> None:
    [ident] = lrs.post(sample("h5p_answered")).json
    assert lrs.get(statementId=ident, verb="http://x.org/v").status_code == 400
    assert lrs.get(statementId=ident, voidedStatementId=ident).status_code == 400
    assert lrs.get(statementId=ident, format="ids").status_code == 200


def test_unknown_statement_is_404(lrs: Lrs) -> None:
    assert lrs.get(statementId="0b0e8e3c-8a5e-4d8b-9f8e-1c2d3e4f5a6b").status_code == 404


def test_head_answers_like_get_without_a_body(lrs: Lrs, sample: Sample) -> None:
    lrs.post(sample("h5p_answered"))
    response = lrs.client.head("/xapi/statements", headers=lrs.headers())
    assert response.status_code == 200 and response.data == b""
    assert "X-Experience-API-Consistent-Through" in response.headers


def test_platform_bound_credential_reads_only_its_platforms_statements(
    client: FlaskClient, app: Flask, lrs: Lrs, sample: Sample
) -> None:
    from xapi.credentials import create_credential

    with app.app_context():
        a = create_credential(db.session, "Moodle A", "https://moodle.example.org")
        b = create_credential(db.session, "Moodle B", "https://moodle-b.example.org")
        db.session.commit()
    moodle_a = Lrs(client, a.credential.key, a.secret)
    moodle_b = Lrs(client, b.credential.key, b.secret)
    [ident] = moodle_a.post(sample("moodle_quiz_completed")).json
    assert [s["id"] for s in moodle_a.get().json["statements"]] == [ident]
    assert moodle_b.get().json["statements"] == []
    assert moodle_b.get(statementId=ident).status_code == 404
    assert lrs.get(statementId=ident).status_code == 200  # an unbound credential sees all


def test_body_above_the_limit_gets_413_with_the_version_header(
    lrs: Lrs, app: Flask, sample: Sample, count_rows: CountRows
) -> None:
    app.config["XAPI_MAX_BODY_BYTES"] = 1000
    response = lrs.post([sample("moodle_quiz_completed")] * 3)
    assert response.status_code == 413
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    assert count_rows(Statement) == 0


def test_group_members_inside_a_substatement_context_are_indexed(
    lrs: Lrs, app: Flask, sample: Sample
) -> None:
    from xapi.models import StatementAgent

    team = {
        "objectType": "Group",
        "account": {"homePage": "https://moodle.example.org", "name": "group-7"},
        "member": [{"mbox": "mailto:ada.martin@example.org"}],
    }
    statement = sample("h5p_answered")
    statement["object"] = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ada.martin@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "https://moodle.example.org/mod/h5pactivity/view.php?id=21"},
        "context": {"instructor": team, "team": team},
    }
    assert lrs.post(statement).status_code == 200
    with app.app_context():
        relations = set(db.session.scalars(select(StatementAgent.relation)).all())
    column = StatementAgent.__table__.c.relation.type.length
    assert {"sub_instructor", "sub_instructor_mbr", "sub_team_mbr"} <= relations
    assert all(len(relation) <= column for relation in relations)


def test_statement_voided_before_it_arrives_is_stored_voided(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    assert void(lrs, statement["id"]).status_code == 200
    assert lrs.post(statement).status_code == 200
    assert lrs.get(statementId=statement["id"]).status_code == 404
    assert lrs.get(voidedStatementId=statement["id"]).status_code == 200


def test_target_and_voiding_statement_in_one_batch(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    voiding = {
        "actor": {"mbox": "mailto:teacher@example.org"},
        "verb": {"id": VOIDED},
        "object": {"objectType": "StatementRef", "id": statement["id"]},
    }
    assert lrs.post([statement, voiding]).status_code == 200
    assert lrs.get(statementId=statement["id"]).status_code == 404
    assert lrs.get(voidedStatementId=statement["id"]).status_code == 200


@pytest.mark.postgres_only
def test_a_connection_dropped_while_in_use_is_a_503_then_renewed(
    app: Flask, lrs: Lrs, sample: Callable[[str], dict[str, Any]]
) -> None:
    """The database drops the pooled connection between two requests (a restart): the
    next request gets 503 with Retry-After and stores nothing, and the one after it
    works on a new connection."""
    assert lrs.post(sample("moodle_quiz_completed")).status_code == 200
    engine = app.extensions["database"]["engine"]
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = make_engine(engine.url.render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()

    refused = lrs.post(sample("moodle_quiz_completed"))
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "database is unavailable" in refused.get_json()["error"]

    stored = lrs.post(sample("moodle_quiz_completed"))
    assert stored.status_code == 200
    assert len(lrs.get().get_json()["statements"]) == 2


@pytest.mark.postgres_only
def test_a_single_post_that_fails_while_writing_stores_nothing(
    app: Flask, lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    """On PostgreSQL a single POST is written as one statement outside a transaction:
    when its last part (the derivation queue row) fails, the statement and its index
    rows are not left behind. The next POST, on the same pool, is stored whole."""
    app.config["EVIDENCE_DERIVATION"] = "worker"  # leave the queue row for the worker
    engine = app.extensions["database"]["engine"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_queue() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'queue refused'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_queue BEFORE INSERT ON xapi_derivation_queue "
                "FOR EACH ROW EXECUTE FUNCTION refuse_queue()"
            )
        )
    try:
        refused = lrs.post(sample("moodle_quiz_completed"))
        assert refused.status_code == 500
        assert "queue refused" not in refused.get_data(as_text=True)  # no database detail
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_queue ON xapi_derivation_queue"))
            conn.execute(text("DROP FUNCTION refuse_queue()"))
    with engine.connect() as conn:
        for table in ("xapi_statement", "xapi_statement_agent", "xapi_statement_activity"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0  # noqa: S608

    [ident] = lrs.post(sample("moodle_quiz_completed")).json
    assert count_rows(Statement) == 1
    assert queued(app) == [ident]
