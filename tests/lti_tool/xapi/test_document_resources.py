"""The State, Activity Profile and Agent Profile resources (xAPI 1.0.3 Communication
§2.3, §2.6, §2.7, concurrency §3.1), as a cmi5 AU and its LMS use them: the LMS
writes the launch data into the State resource, the AU reads it, and the learner's
preferences live in the Agent Profile resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse
from xapi_lrs_client import Lrs

from lti_tool.database import db
from xapi.credentials import create_credential

AU = "https://content.example.org/cmi5/au/42"
REGISTRATION = "c2d6f1a8-0b1e-4c3f-9a55-5f2b4d8c9e10"
LEARNER = {
    "objectType": "Agent",
    "account": {"homePage": "https://moodle.example.org", "name": "7"},
}
LAUNCH_DATA = {
    "contextTemplate": {
        "extensions": {"https://w3id.org/xapi/cmi5/context/extensions/sessionid": "s1"}
    },
    "launchMode": "Normal",
    "moveOn": "CompletedOrPassed",
}


def state(
    lrs: Lrs, method: str, body: Any = None, headers: dict[str, str] | None = None, **params: str
) -> TestResponse:
    query = {"activityId": AU, "agent": json.dumps(LEARNER), "registration": REGISTRATION}
    query.update(params)
    data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
    return lrs.client.open(
        "/xapi/activities/state",
        method=method,
        query_string={k: v for k, v in query.items() if v != ""},
        data=data,
        headers=lrs.headers(**{"Content-Type": "application/json", **(headers or {})}),
    )


def agent_profile(
    lrs: Lrs, method: str, body: Any = None, headers: dict[str, str] | None = None, **params: str
) -> TestResponse:
    query = {"agent": json.dumps(LEARNER), **params}
    data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
    return lrs.client.open(
        "/xapi/agents/profile",
        method=method,
        query_string=query,
        data=data,
        headers=lrs.headers(**{"Content-Type": "application/json", **(headers or {})}),
    )


def test_an_au_reads_the_launch_data_its_lms_wrote(lrs: Lrs) -> None:
    assert state(lrs, "PUT", LAUNCH_DATA, stateId="LMS.LaunchData").status_code == 204
    response = state(lrs, "GET", stateId="LMS.LaunchData")
    assert response.status_code == 200
    assert response.json == LAUNCH_DATA
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["ETag"].strip('"') and response.headers["Last-Modified"]
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    # Another registration, another agent: nothing there.
    other = state(
        lrs, "GET", stateId="LMS.LaunchData", registration="0f8b7c3e-1111-4222-8333-944455556666"
    )
    assert other.status_code == 404
    assert state(lrs, "HEAD", stateId="LMS.LaunchData").status_code == 200


def test_post_merges_json_objects_and_refuses_anything_else(lrs: Lrs) -> None:
    assert state(lrs, "POST", {"bookmark": "p1", "score": 1}, stateId="suspend").status_code == 204
    assert state(lrs, "POST", {"bookmark": "p7"}, stateId="suspend").status_code == 204
    assert state(lrs, "GET", stateId="suspend").json == {"bookmark": "p7", "score": 1}
    refused = state(lrs, "POST", [1, 2], stateId="suspend")
    assert refused.status_code == 400 and "JSON object" in refused.json["error"]
    text = state(lrs, "POST", b"plain", headers={"Content-Type": "text/plain"}, stateId="suspend")
    assert text.status_code == 400
    assert state(lrs, "GET", stateId="suspend").json == {"bookmark": "p7", "score": 1}


def test_a_document_content_type_longer_than_kept_is_400(lrs: Lrs) -> None:
    headers = {"Content-Type": "application/vnd." + "x" * 250}
    refused = state(lrs, "PUT", b"data", headers=headers, stateId="long")
    assert refused.status_code == 400 and "at most 255 characters" in refused.json["error"]
    assert state(lrs, "GET", stateId="long").status_code == 404


@pytest.mark.parametrize("content_type", ["text/pla\x00in", "text/pl\x7fain"])
def test_a_document_content_type_with_a_control_character_is_400(
    lrs: Lrs, content_type: str
) -> None:
    """A NUL was a 500 on PostgreSQL and stored on SQLite."""
    refused = state(lrs, "PUT", b"data", headers={"Content-Type": content_type}, stateId="ctl")
    assert refused.status_code == 400 and "printable ASCII" in refused.json["error"]
    assert state(lrs, "GET", stateId="ctl").status_code == 404


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("text/plain\nX-Injected: 1", "line break"),
        ("text/plain\r", "line break"),
        ("text/pl\u20acin", "printable ASCII"),
    ],
)
def test_a_content_type_sent_as_a_form_field_is_checked_like_a_header(
    lrs: Lrs, content_type: str, reason: str
) -> None:
    """With the alternate syntax, a line break was a 500 and a euro sign was stored, then
    answered with a header no server can send."""
    form = {
        "activityId": AU,
        "agent": json.dumps(LEARNER),
        "stateId": "form",
        "content": "data",
        "Content-Type": content_type,
        **lrs.headers(),
    }
    refused = lrs.client.post("/xapi/activities/state?method=PUT", data=form)
    assert refused.status_code == 400 and reason in refused.json["error"]
    assert state(lrs, "GET", stateId="form", registration="").status_code == 404


def test_documents_that_are_not_json_come_back_as_they_went(lrs: Lrs) -> None:
    blob = bytes(range(256))
    headers = {"Content-Type": "application/octet-stream"}
    assert state(lrs, "PUT", blob, headers=headers, stateId="blob").status_code == 204
    response = state(lrs, "GET", stateId="blob")
    assert response.data == blob and response.headers["Content-Type"] == "application/octet-stream"


def test_state_ids_are_listed_and_deleted_per_scope(lrs: Lrs) -> None:
    for state_id in ("a", "b"):
        assert state(lrs, "PUT", {"x": state_id}, stateId=state_id).status_code == 204
    elsewhere = "0f8b7c3e-1111-4222-8333-944455556666"
    assert state(lrs, "PUT", {"x": "c"}, stateId="c", registration=elsewhere).status_code == 204
    assert state(lrs, "GET").json == ["a", "b"]
    assert sorted(state(lrs, "GET", registration="").json) == ["a", "b", "c"]  # every registration
    assert state(lrs, "GET", since="2999-01-01T00:00:00Z").json == []
    assert state(lrs, "DELETE", stateId="a").status_code == 204
    assert state(lrs, "GET").json == ["b"]
    assert state(lrs, "DELETE").status_code == 204  # the registration's states
    assert state(lrs, "GET", registration="").json == ["c"]


def test_profiles_follow_the_concurrency_rules(lrs: Lrs) -> None:
    """§3.1: replacing a profile needs If-Match with its ETag; a stale one is a 412."""

    def put(language: str, **headers: str) -> int:
        response = agent_profile(
            lrs, "PUT", {"language": language}, headers=headers, profileId="cmi5LearnerPreferences"
        )
        return response.status_code

    assert put("fr", **{"If-None-Match": "*"}) == 204
    assert put("en", **{"If-None-Match": "*"}) == 412  # it exists now
    assert put("en") == 409  # a blind overwrite
    etag = agent_profile(lrs, "GET", profileId="cmi5LearnerPreferences").headers["ETag"]
    assert put("de", **{"If-Match": '"0000"'}) == 412  # a stale ETag
    assert put("en", **{"If-Match": etag}) == 204
    assert agent_profile(lrs, "GET", profileId="cmi5LearnerPreferences").json == {"language": "en"}
    stale_delete = agent_profile(
        lrs, "DELETE", headers={"If-Match": etag}, profileId="cmi5LearnerPreferences"
    )
    assert stale_delete.status_code == 412
    assert agent_profile(lrs, "GET").json == ["cmi5LearnerPreferences"]


def test_activity_profiles(lrs: Lrs) -> None:
    url = "/xapi/activities/profile"
    params = {"activityId": AU, "profileId": "glossary"}
    blind = lrs.client.put(
        url,
        query_string=params,
        data=b"<terms/>",
        headers=lrs.headers(**{"Content-Type": "application/xml"}),
    )
    assert blind.status_code == 400 and "If-None-Match" in blind.json["error"]
    put = lrs.client.put(
        url,
        query_string=params,
        data=b"<terms/>",
        headers=lrs.headers(**{"Content-Type": "application/xml", "If-None-Match": "*"}),
    )
    assert put.status_code == 204
    got = lrs.client.get(url, query_string=params, headers=lrs.headers())
    assert got.data == b"<terms/>" and got.headers["Content-Type"].startswith("application/xml")
    assert lrs.client.get(url, query_string={"activityId": AU}, headers=lrs.headers()).json == [
        "glossary"
    ]
    assert lrs.client.delete(url, query_string=params, headers=lrs.headers()).status_code == 204
    assert lrs.client.get(url, query_string=params, headers=lrs.headers()).status_code == 404


def test_bad_requests_name_what_is_wrong(lrs: Lrs) -> None:
    cases = [
        ({"agent": json.dumps(LEARNER), "stateId": "s"}, "activityId"),
        ({"activityId": AU, "stateId": "s"}, "agent"),
        ({"activityId": "not an iri", "agent": json.dumps(LEARNER), "stateId": "s"}, "activityId"),
        ({"activityId": AU, "agent": '{"mbox": "ada"}', "stateId": "s"}, "agent"),
        (
            {"activityId": AU, "agent": json.dumps(LEARNER), "registration": "r1", "stateId": "s"},
            "registration",
        ),
        ({"activityId": AU, "agent": json.dumps(LEARNER), "since": "yesterday"}, "since"),
        (
            {"activityId": AU, "agent": json.dumps(LEARNER), "stateId": "s", "colour": "red"},
            "colour",
        ),
    ]
    for query, named in cases:
        response = lrs.client.get(
            "/xapi/activities/state", query_string=query, headers=lrs.headers()
        )
        assert response.status_code == 400, query
        assert named in response.json["error"], (query, response.json)
    no_id = lrs.client.put(
        "/xapi/activities/state",
        query_string={"activityId": AU, "agent": json.dumps(LEARNER)},
        data="{}",
        headers=lrs.headers(**{"Content-Type": "application/json"}),
    )
    assert no_id.status_code == 400 and "stateId" in no_id.json["error"]
    assert lrs.client.get("/xapi/activities/state").status_code == 400  # no version header


def test_a_platform_credential_never_sees_another_platforms_documents(
    app: Flask, client: FlaskClient, lrs: Lrs
) -> None:
    with app.app_context():
        other = create_credential(
            db.session, "Other school", platform_issuer="https://other.example.org"
        )
        db.session.commit()
        stranger = Lrs(client, other.credential.key, other.secret)
    assert state(lrs, "PUT", LAUNCH_DATA, stateId="LMS.LaunchData").status_code == 204
    assert state(stranger, "GET", stateId="LMS.LaunchData").status_code == 404
    assert state(stranger, "GET").json == []
    assert state(stranger, "DELETE").status_code == 204
    assert state(lrs, "GET", stateId="LMS.LaunchData").json == LAUNCH_DATA
