"""Alternate request syntax, the Activities and Agents resources, and the document
resources this LRS does not provide (xAPI 1.0.3 Communication §1.3, §2.4, §2.5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from xapi_lrs_client import Lrs

Sample = Callable[[str], dict[str, Any]]


def test_alternate_syntax_get_and_put_issued_as_post(lrs: Lrs, sample: Sample) -> None:
    ident = "5d0f3c2e-7a4b-4c1d-9e8f-0a1b2c3d4e5f"
    put = lrs.client.post(
        "/xapi/statements?method=PUT",
        data={
            "statementId": ident,
            "content": json.dumps(sample("h5p_answered")),
            "X-Experience-API-Version": "1.0.3",
            "Authorization": lrs.headers()["Authorization"],
        },
    )
    assert put.status_code == 204
    got = lrs.client.post(
        "/xapi/statements?method=GET",
        data={"statementId": ident},
        headers=lrs.headers(),
    )
    assert got.status_code == 200 and got.json["id"] == ident


def test_alternate_syntax_with_other_query_parameters_is_400(lrs: Lrs) -> None:
    response = lrs.client.post(
        "/xapi/statements?method=GET&limit=1", data={}, headers=lrs.headers()
    )
    assert response.status_code == 400


def test_alternate_syntax_header_fields_are_headers(lrs: Lrs, sample: Sample) -> None:
    response = lrs.client.post(
        "/xapi/statements?method=POST",
        data={"content": json.dumps(sample("h5p_answered")), "X-Experience-API-Version": "0.8"},
        headers=lrs.headers(),
    )
    assert response.status_code == 400


def test_activities_resource_merges_every_definition_received(lrs: Lrs, sample: Sample) -> None:
    first = sample("h5p_answered")
    second = sample("h5p_answered")
    second["object"]["definition"]["name"] = {"fr-FR": "Segmentation"}
    lrs.post([first, second])
    response = lrs.client.get(
        "/xapi/activities",
        query_string={"activityId": first["object"]["id"]},
        headers=lrs.headers(),
    )
    assert response.status_code == 200
    definition = response.json["definition"]
    assert definition["name"] == {"en-US": "Segmentation du marché", "fr-FR": "Segmentation"}
    assert definition["interactionType"] == "choice"


def test_activities_resource_needs_an_activity_id(lrs: Lrs) -> None:
    assert lrs.client.get("/xapi/activities", headers=lrs.headers()).status_code == 400


def test_agents_resource_returns_a_person(lrs: Lrs) -> None:
    agent = {"name": "Ada Martin", "mbox": "mailto:ada.martin@example.org"}
    response = lrs.client.get(
        "/xapi/agents", query_string={"agent": json.dumps(agent)}, headers=lrs.headers()
    )
    assert response.json == {
        "objectType": "Person",
        "name": ["Ada Martin"],
        "mbox": ["mailto:ada.martin@example.org"],
    }
    bad = lrs.client.get(
        "/xapi/agents", query_string={"agent": '{"mbox": "ada"}'}, headers=lrs.headers()
    )
    assert bad.status_code == 400


def test_document_resources_check_the_version_and_the_credentials_first(lrs: Lrs) -> None:
    for url in ("/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile"):
        assert lrs.client.get(url).status_code == 400  # no version header
        anonymous = lrs.client.get(url, headers={"X-Experience-API-Version": "1.0.3"})
        assert anonymous.status_code == 401
