"""``{BASE}/xapi/profile``: the convention as an xAPI Profiles 1.0 document and a page."""

from __future__ import annotations

from flask.testing import FlaskClient
from xapi_samples import BASE_URL, OBJECTIVE, competency_iri

from lti_tool.models import Competency

PROFILE = f"{BASE_URL}/xapi/profile"


def test_profile_is_json_ld_with_the_profile_properties_the_spec_requires(
    client: FlaskClient, referentiel: dict[str, Competency]
) -> None:
    response = client.get("/xapi/profile", headers={"Accept": "application/ld+json"})

    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    doc = response.get_json(force=True)
    assert doc["@context"] == "https://w3id.org/xapi/profiles/context"
    assert doc["id"] == PROFILE and doc["type"] == "Profile"
    assert doc["conformsTo"] == "https://w3id.org/xapi/profiles#1.0"
    assert doc["prefLabel"]["fr"] and doc["definition"]["en"]
    assert doc["versions"][0]["id"] == f"{PROFILE}/v1"
    assert doc["author"]["type"] == "Organization"


def test_each_competency_is_an_objective_activity_concept_in_the_profile(
    client: FlaskClient, referentiel: dict[str, Competency]
) -> None:
    doc = client.get("/xapi/profile?format=json").get_json(force=True)

    concepts = {c["id"]: c for c in doc["concepts"]}
    assert set(concepts) == {competency_iri(path) for path in referentiel}
    c10 = concepts[competency_iri("bloc-2/C10")]
    assert c10["type"] == "Activity" and c10["inScheme"] == f"{PROFILE}/v1"
    assert c10["activityDefinition"]["type"] == OBJECTIVE
    assert c10["activityDefinition"]["name"] == {"fr": "bloc-2/C10"}


def test_template_tags_the_competency_in_the_parent_context_activities(
    client: FlaskClient, referentiel: dict[str, Competency]
) -> None:
    doc = client.get("/xapi/profile?format=json").get_json(force=True)

    tagged = next(t for t in doc["templates"] if t["id"].endswith("competency-in-parent"))
    assert tagged["type"] == "StatementTemplate"
    assert tagged["contextParentActivityType"] == [OBJECTIVE]
    parent_rule = tagged["rules"][0]
    assert parent_rule["location"] == "$.context.contextActivities.parent[*].id"
    assert competency_iri("bloc-1/C1") in parent_rule["any"]


def test_profile_has_no_empty_array_when_no_referentiel_is_loaded(client: FlaskClient) -> None:
    doc = client.get("/xapi/profile?format=json").get_json(force=True)

    assert "concepts" not in doc
    assert all("any" not in rule for t in doc["templates"] for rule in t["rules"])


def test_a_browser_gets_a_page_that_explains_the_convention(
    client: FlaskClient, referentiel: dict[str, Competency]
) -> None:
    page = client.get("/xapi/profile", headers={"Accept": "text/html,*/*;q=0.8"})

    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "contextActivities.parent" in text and OBJECTIVE in text
    assert competency_iri("bloc-2/C10") in text
    assert "Accept" in page.headers["Vary"].split(", ")
