"""JSON may spell half of a surrogate pair (``"\\ud83d"``), which is no Unicode
character: a statement or parameter holding one is bad input (400, nothing stored),
never a crash when it is encoded for the database (500). Pairs are characters like any
other, and the statement is kept as received."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from xapi_lrs_client import Lrs

from xapi.json_text import NotUnicode, loads, lone_surrogate_in, raw_decode
from xapi.models import Statement

Sample = Callable[[str], dict[str, Any]]
CountRows = Callable[[type[Any]], int]
LONE = "\ud83d"  # json.dumps writes it as the escape \ud83d
EXTENSION = "http://example.org/xapi/extensions/note"


def with_lone_surrogate(statement: dict[str, Any], where: str) -> dict[str, Any]:
    if where == "actor's account name":
        statement["actor"]["account"]["name"] = f"learner{LONE}"
    elif where == "activity name":
        statement["object"]["definition"]["name"] = {"fr": f"Quiz {LONE}"}
    elif where == "extension key":
        statement.setdefault("result", {})["extensions"] = {f"{EXTENSION}{LONE}": 1}
    elif where == "extension value":
        statement.setdefault("result", {})["extensions"] = {EXTENSION: [{"text": LONE}]}
    return statement


@pytest.mark.parametrize(
    "where", ["actor's account name", "activity name", "extension key", "extension value"]
)
def test_a_lone_surrogate_in_a_statement_is_400_and_nothing_is_stored(
    lrs: Lrs, sample: Sample, count_rows: CountRows, where: str
) -> None:
    response = lrs.post(with_lone_surrogate(sample("moodle_quiz_completed"), where))
    assert response.status_code == 400
    assert "statement: a string holds a lone surrogate" in response.json["error"]
    assert count_rows(Statement) == 0


def test_a_batch_with_one_lone_surrogate_stores_none_of_its_statements(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    good = sample("moodle_quiz_completed")
    bad = with_lone_surrogate(sample("moodle_quiz_completed"), "activity name")
    response = lrs.post([good, bad])
    assert response.status_code == 400
    assert "statements[1]: a string holds a lone surrogate" in response.json["error"]
    assert count_rows(Statement) == 0


def test_a_lone_surrogate_in_a_put_statement_is_400(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    statement = with_lone_surrogate(sample("moodle_quiz_completed"), "actor's account name")
    response = lrs.put("8f0e1ad2-5b9c-4d6e-9f3a-2c7b1e4d5a60", statement)
    assert response.status_code == 400
    assert count_rows(Statement) == 0


def test_a_surrogate_pair_is_a_character_kept_as_received(lrs: Lrs, sample: Sample) -> None:
    statement = sample("moodle_quiz_completed")
    statement["object"]["definition"]["name"] = {"fr": "Quiz \U0001f600"}
    body = json.dumps(statement)  # the emoji spelled as the escapes \ud83d\ude00
    assert "\\ud83d\\ude00" in body
    response = lrs.post(body)
    assert response.status_code == 200
    back = lrs.get(statementId=response.json[0], format="exact").json
    assert back["object"]["definition"]["name"] == {"fr": "Quiz \U0001f600"}


@pytest.mark.parametrize("resource", ["/xapi/statements", "/xapi/agents"])
def test_an_agent_parameter_with_a_lone_surrogate_is_400(lrs: Lrs, resource: str) -> None:
    agent = json.dumps({"account": {"homePage": "https://moodle.example.org", "name": LONE}})
    response = lrs.client.get(resource, query_string={"agent": agent}, headers=lrs.headers())
    assert response.status_code == 400
    assert "agent" in response.json["error"]


# A lone surrogate, and NaN (test_non_finite_numbers): Python reads both, no client can.
@pytest.mark.parametrize("body", [json.dumps({"bookmark": LONE}), '{"progress": NaN}'])
def test_a_state_merged_from_json_no_client_could_read_is_400(lrs: Lrs, body: str) -> None:
    response = lrs.client.post(
        "/xapi/activities/state",
        query_string={
            "activityId": "https://content.example.org/au/1",
            "agent": json.dumps({"mbox": "mailto:learner@example.org"}),
            "stateId": "suspend",
        },
        data=body,
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400
    assert "JSON" in response.json["error"]


@pytest.mark.parametrize("text", ['"\\ud83d"', '{"\\udfff": 1}', '[1, {"a": ["\\ud800x"]}]'])
def test_a_lone_surrogate_is_found_wherever_it_is(text: str) -> None:
    with pytest.raises(NotUnicode):
        loads(text)
    with pytest.raises(NotUnicode):
        loads(text.encode())
    value, _end = raw_decode(f"  {text}  ", 2)
    assert lone_surrogate_in(text, value)


def test_reading_json_takes_pairs_and_an_escaped_backslash() -> None:
    assert loads('"\\ud83d\\ude00"') == "\U0001f600"
    # A backslash then "ud83d": text, not an escape.
    assert loads('"\\\\ud83d"') == "\\ud83d"
    text = '["\\\\udfff"] tail'
    value, end = raw_decode(text, 0)
    assert (value, end) == (["\\udfff"], 11)
    assert not lone_surrogate_in(text, value)
