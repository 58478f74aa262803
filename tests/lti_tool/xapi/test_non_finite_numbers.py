"""Python's JSON reads ``NaN``, ``Infinity`` and numbers past a float's range, which
JSON has no way to write: a statement holding one is bad input (400, nothing stored),
never a statement stored and then served as text no client can parse."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from xapi_lrs_client import Lrs

from xapi.exceptions import InvalidStatement
from xapi.json_text import decode_statement, loads
from xapi.models import Statement
from xapi.validation import StatementValidator

Sample = Callable[[str], dict[str, Any]]
CountRows = Callable[[type[Any]], int]
EXTENSION = "http://example.org/xapi/extensions/reading"
NOT_JSON = ["NaN", "Infinity", "-Infinity", "1e400", "-2.5E+309", "1" + "0" * 400 + ".5"]


def strict_json(text: str | bytes) -> Any:
    """What any JSON parser (a browser's, a Java LRS client's) makes of an answer."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def with_number(statement: dict[str, Any], number: str) -> str:
    """The statement's JSON with ``number`` written as a result extension's value."""
    statement.setdefault("result", {})["extensions"] = {EXTENSION: "PLACEHOLDER"}
    return json.dumps(statement).replace('"PLACEHOLDER"', number)


@pytest.mark.parametrize("number", NOT_JSON)
def test_a_statement_holding_a_number_json_cannot_hold_is_400(
    lrs: Lrs, sample: Sample, count_rows: CountRows, number: str
) -> None:
    response = lrs.post(with_number(sample("moodle_quiz_completed"), number))
    assert response.status_code == 400
    assert response.json["error"].startswith("statement: a number is NaN, Infinity or too large")
    assert count_rows(Statement) == 0


def test_a_batch_with_one_such_number_stores_none_of_its_statements(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    good = json.dumps(sample("moodle_quiz_completed"))
    bad = with_number(sample("moodle_quiz_completed"), "NaN")
    response = lrs.post(f"[{good}, {bad}]")
    assert response.status_code == 400
    assert "statements[1]: a number is NaN" in response.json["error"]
    assert count_rows(Statement) == 0


@pytest.mark.parametrize("number", ["1e300", "-1.7976931348623157e308", "1e-400", "12345"])
def test_large_and_tiny_finite_numbers_are_kept_and_served_as_json(
    lrs: Lrs, sample: Sample, number: str
) -> None:
    response = lrs.post(with_number(sample("moodle_quiz_completed"), number))
    assert response.status_code == 200, response.json
    answer = lrs.client.get(
        "/xapi/statements", query_string={"statementId": response.json[0]}, headers=lrs.headers()
    )
    value = strict_json(answer.data)["result"]["extensions"][EXTENSION]
    assert value == json.loads(number)
    listed = lrs.client.get("/xapi/statements", headers=lrs.headers())
    assert strict_json(listed.data)["statements"][0]["id"] == response.json[0]


def test_an_integer_longer_than_python_reads_is_400_in_plain_words(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    response = lrs.post(with_number(sample("moodle_quiz_completed"), "9" * 5000))
    assert response.status_code == 400
    assert "a number has more than 4300 digits" in response.json["error"]
    assert "sys." not in response.json["error"]
    assert count_rows(Statement) == 0


@pytest.mark.parametrize("number", NOT_JSON)
def test_reading_json_refuses_what_json_cannot_hold(number: str) -> None:
    with pytest.raises(ValueError, match=r"not a JSON value|too large to be read"):
        loads(f'{{"a": [1, {number}]}}')
    with pytest.raises(ValueError):
        loads(f"[{number}]".encode())


@pytest.mark.parametrize("number", NOT_JSON)
def test_a_statement_holding_such_a_number_is_read_and_marked(number: str) -> None:
    text = f'{{"a": {{"b": [0, {{"c": {number}}}]}}}} tail'
    value, end, json_numbers = decode_statement(text, 0)
    assert end == len(text) - len(" tail")
    assert not json_numbers
    assert not math.isfinite(value["a"]["b"][1]["c"])


def test_such_words_inside_strings_are_text() -> None:
    text = '{"name": "NaN Infinity", "id": "http://example.org/1e400/x", "n": 2e10}'
    value, _end, json_numbers = decode_statement(text, 0)
    assert json_numbers
    assert value == loads(text)
    assert value["name"] == "NaN Infinity"


def test_the_validator_names_nan_for_what_it_is(sample: Sample) -> None:
    # Statements built in Python (not read from JSON) reach the validator directly.
    statement = sample("moodle_quiz_completed")
    statement["result"] = {"score": {"raw": math.nan}}
    with pytest.raises(InvalidStatement, match="raw: must be a number, got NaN or an infinity"):
        StatementValidator().statement(statement, "statement")
