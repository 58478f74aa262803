"""JSON nested without end is bad input (400), never a crash of the decoder (500), and
nothing stored is nested so deep that it cannot be read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from xapi_lrs_client import Lrs

from xapi.json_text import MAX_DEPTH, MAX_EXTENSION_DEPTH, deeper_than
from xapi.models import Document, Statement

Sample = Callable[[str], dict[str, Any]]
CountRows = Callable[[type[Any]], int]
ABYSS = "[" * 100_000 + "]" * 100_000
EXTENSION = "http://example.org/xapi/extensions/trace"


def nested(levels: int) -> Any:
    value: Any = "floor"
    for _ in range(levels):
        value = [value]
    return value


def with_extension(statement: dict[str, Any], value: Any) -> dict[str, Any]:
    statement.setdefault("result", {})["extensions"] = {EXTENSION: value}
    return statement


@pytest.mark.parametrize("where", ["body", "in a statement", "in a batch"])
def test_a_body_nested_past_the_decoder_is_400(
    lrs: Lrs, sample: Sample, count_rows: CountRows, where: str
) -> None:
    statement = json.dumps(sample("moodle_quiz_completed"))
    body = {
        "body": ABYSS,
        "in a statement": statement[:-1]
        + f', "context": {{"extensions": {{"{EXTENSION}": {ABYSS}}}}}}}',
        "in a batch": f"[{statement}, {ABYSS}]",
    }[where]
    response = lrs.post(body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json["error"]
    assert count_rows(Statement) == 0


def test_an_extension_value_may_nest_up_to_its_limit(lrs: Lrs, sample: Sample) -> None:
    statement = with_extension(sample("moodle_quiz_completed"), nested(MAX_EXTENSION_DEPTH))
    response = lrs.post(statement)
    assert response.status_code == 200
    back = lrs.get(statementId=response.json[0]).json
    assert back["result"]["extensions"][EXTENSION] == nested(MAX_EXTENSION_DEPTH)


def test_an_extension_value_nested_deeper_is_400_naming_it(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    statement = with_extension(sample("moodle_quiz_completed"), {"a": nested(MAX_EXTENSION_DEPTH)})
    response = lrs.post(statement)
    assert response.status_code == 400
    assert f"result.extensions.{EXTENSION}" in response.json["error"]
    assert f"more than {MAX_EXTENSION_DEPTH} levels" in response.json["error"]
    assert count_rows(Statement) == 0


@pytest.mark.parametrize("resource", ["/xapi/statements", "/xapi/agents", "/xapi/agents/profile"])
def test_an_agent_parameter_nested_past_the_decoder_is_400(lrs: Lrs, resource: str) -> None:
    response = lrs.client.get(resource, query_string={"agent": ABYSS}, headers=lrs.headers())
    assert response.status_code == 400
    assert "agent" in response.json["error"]


def test_a_document_merge_refuses_json_deeper_than_kept(lrs: Lrs, count_rows: CountRows) -> None:
    def post_state(body: str) -> Any:
        return lrs.client.post(
            "/xapi/activities/state",
            query_string={
                "activityId": "https://content.example.org/au/1",
                "agent": json.dumps({"mbox": "mailto:learner@example.org"}),
                "stateId": "suspend",
            },
            data=body,
            headers=lrs.headers(**{"Content-Type": "application/json"}),
        )

    for body in (ABYSS, json.dumps({"trace": nested(MAX_DEPTH)})):
        response = post_state(body)
        assert response.status_code == 400
        assert "JSON" in response.json["error"]
    assert count_rows(Document) == 0
    assert post_state(json.dumps({"trace": nested(MAX_DEPTH - 1)})).status_code == 204


def test_depth_is_measured_without_recursion() -> None:
    assert not deeper_than("scalar", 0)
    assert not deeper_than([[1]], 2) and deeper_than([[1]], 1)
    assert deeper_than({"a": [{"b": 1}]}, 2) and not deeper_than({"a": [{"b": 1}]}, 3)
    assert deeper_than(nested(100_000), MAX_DEPTH)
