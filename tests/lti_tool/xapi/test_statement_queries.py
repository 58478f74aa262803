"""Filtered statement queries and the ``more`` link (xAPI 1.0.3 Communication §2.1.3)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from xapi_lrs_client import Lrs

Sample = Callable[[str], dict[str, Any]]
ADA = {"account": {"homePage": "https://moodle.example.org", "name": "42"}}


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [s["id"] for s in response.json["statements"]]


@pytest.fixture
def stored(lrs: Lrs, sample: Sample) -> dict[str, str]:
    """Moodle, H5P and cmi5 statements stored one request each, in this order."""
    out = {}
    for name in ("moodle_quiz_completed", "h5p_answered", "cmi5_passed"):
        [out[name]] = lrs.post(sample(name)).json
        time.sleep(0.002)  # distinct stored times, so the order is the storing order
    return out


def test_list_must_be_newest_stored_first_and_ascending_reverses(
    lrs: Lrs, stored: dict[str, str]
) -> None:
    order = [stored["cmi5_passed"], stored["h5p_answered"], stored["moodle_quiz_completed"]]
    assert ids(lrs.get()) == order
    assert ids(lrs.get(ascending="true")) == list(reversed(order))


def test_agent_filter_matches_the_actor_by_identifier(lrs: Lrs, stored: dict[str, str]) -> None:
    found = ids(lrs.get(agent=json.dumps(ADA)))
    assert set(found) == {stored["moodle_quiz_completed"], stored["cmi5_passed"]}


def test_verb_filter(lrs: Lrs, stored: dict[str, str]) -> None:
    assert ids(lrs.get(verb="http://adlnet.gov/expapi/verbs/answered")) == [stored["h5p_answered"]]


def test_activity_filter_matches_the_object_and_related_activities_the_context(
    lrs: Lrs, stored: dict[str, str]
) -> None:
    competency = "http://tool.test/referentiels/diplovis-bgdc/bloc-2/C10"
    assert ids(lrs.get(activity=competency)) == []
    assert ids(lrs.get(activity=competency, related_activities="true")) == [stored["cmi5_passed"]]
    quiz = "https://moodle.example.org/mod/quiz/view.php?id=17"
    assert ids(lrs.get(activity=quiz, related_activities="true")) == [
        stored["moodle_quiz_completed"]
    ]


def test_registration_filter_ignores_case(lrs: Lrs, stored: dict[str, str]) -> None:
    found = ids(lrs.get(registration="EC231277-B27B-4C15-8291-D29225B2B8F7"))
    assert found == [stored["cmi5_passed"]]


def test_since_is_exclusive_and_until_inclusive(lrs: Lrs, stored: dict[str, str]) -> None:
    middle = lrs.get(statementId=stored["h5p_answered"]).json["stored"]
    assert ids(lrs.get(since=middle)) == [stored["cmi5_passed"]]
    assert ids(lrs.get(until=middle)) == [stored["h5p_answered"], stored["moodle_quiz_completed"]]


def test_related_agents_finds_the_authority(
    lrs: Lrs, stored: dict[str, str], credential: tuple[str, str]
) -> None:
    authority = lrs.get(statementId=stored["h5p_answered"]).json["authority"]
    assert ids(lrs.get(agent=json.dumps(authority))) == []
    assert len(ids(lrs.get(agent=json.dumps(authority), related_agents="true"))) == 3


def test_statements_referring_to_a_match_are_returned(lrs: Lrs, stored: dict[str, str]) -> None:
    [voiding] = lrs.post(
        {
            "actor": {"mbox": "mailto:teacher@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": stored["h5p_answered"]},
        }
    ).json
    # The voided statement is gone from lists; the voiding statement refers to a match.
    assert ids(lrs.get(verb="http://adlnet.gov/expapi/verbs/answered")) == [voiding]


def test_more_link_pages_through_every_statement_once(lrs: Lrs, sample: Sample) -> None:
    batch = []
    for n in range(7):
        statement = sample("h5p_answered")
        statement["object"]["id"] += f"&page={n}"
        batch.append(statement)
    posted = lrs.post(batch).json
    seen: list[str] = []
    page = lrs.get(limit=3)
    while True:
        seen += ids(page)
        more = page.json["more"]
        if not more:
            break
        assert urlparse(more).path == "/xapi/statements"
        page = lrs.get_url(more)
    assert sorted(seen) == sorted(posted) and len(seen) == 7


def test_tampered_more_token_is_400(lrs: Lrs, sample: Sample) -> None:
    lrs.post([sample("h5p_answered"), sample("moodle_quiz_completed")])
    more = lrs.get(limit=1).json["more"]
    token = parse_qs(urlparse(more).query)["more"][0]
    assert lrs.get(more=token[:-2] + "xx").status_code == 400


def test_format_ids_keeps_only_identifiers(lrs: Lrs, stored: dict[str, str]) -> None:
    document = lrs.get(statementId=stored["h5p_answered"], format="ids").json
    assert document["actor"] == {"objectType": "Agent", "mbox": "mailto:ada.martin@example.org"}
    assert document["object"] == {"id": "https://moodle.example.org/mod/h5pactivity/view.php?id=21"}
    assert document["verb"] == {"id": "http://adlnet.gov/expapi/verbs/answered"}


def test_format_canonical_picks_the_accepted_language(lrs: Lrs, sample: Sample) -> None:
    statement = sample("h5p_answered")
    statement["verb"]["display"] = {"en-US": "answered", "fr-FR": "a répondu"}
    [ident] = lrs.post(statement).json
    response = lrs.client.get(
        "/xapi/statements",
        query_string={"statementId": ident, "format": "canonical"},
        headers=lrs.headers(**{"Accept-Language": "fr"}),
    )
    assert response.json["verb"]["display"] == {"fr-FR": "a répondu"}


def test_context_activities_are_returned_as_arrays(lrs: Lrs, sample: Sample) -> None:
    statement = sample("h5p_answered")
    statement["context"]["contextActivities"]["category"] = {"id": "http://h5p.org/libraries/x"}
    [ident] = lrs.post(statement).json
    returned = lrs.get(statementId=ident).json
    assert returned["context"]["contextActivities"]["category"] == [
        {"id": "http://h5p.org/libraries/x"}
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "-1"},
        {"ascending": "yes"},
        {"since": "yesterday"},
        {"agent": "not json"},
        {"agent": json.dumps({"mbox": "ada@example.org"})},
        {"format": "full"},
        {"registration": "nope"},
        {"colour": "blue"},
    ],
)
def test_malformed_query_parameters_are_400(lrs: Lrs, params: dict[str, str]) -> None:
    assert lrs.get(**params).status_code == 400
