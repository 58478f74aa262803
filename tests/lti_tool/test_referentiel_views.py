"""The référentiel's IRIs resolve (HTML for people, JSON for machines), its exports download,
and the CASE 1.0 service paths answer."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.cli import main
from lti_tool.database import db
from referentiel.data_file import parse_data, read_builtin
from referentiel.loading import load_document

BASE = "http://tool.test"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def diplovis_data() -> dict[str, Any]:
    return read_builtin("diplovis-bgdc").to_data()


@pytest.fixture
def loaded(app: Flask) -> None:
    with app.app_context():
        load_document(db.session, read_builtin("diplovis-bgdc"))
        db.session.commit()


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/referentiels/diplovis-bgdc", "DIPLOVIS - Bachelor en gestion et développement"),
        ("/referentiels/diplovis-bgdc/bloc-7b", "Bloc 7b : Développement de la stratégie"),
        ("/referentiels/diplovis-bgdc/bloc-1/C10", "Compétence C10"),
    ],
)
def test_iris_answer_an_html_page_to_browsers(client: FlaskClient, path: str, heading: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page and f"<h1>{heading}" in page
    assert 'aria-label="Fil d’Ariane"' in page
    assert "Accept" in response.headers["Vary"]


@pytest.mark.usefixtures("loaded")
def test_framework_iri_answers_json_with_its_blocs(client: FlaskClient) -> None:
    data = client.get("/referentiels/diplovis-bgdc", headers=JSON).json
    assert data["id"] == f"{BASE}/referentiels/diplovis-bgdc"
    assert data["type"] == "Framework" and data["version"] == "1.0.0"
    assert len(data["blocs"]) == 8
    assert data["blocs"][6] == f"{BASE}/referentiels/diplovis-bgdc/bloc-7a"
    assert data["exports"]["moodle-csv"] == f"{BASE}/referentiels/diplovis-bgdc.csv"


@pytest.mark.usefixtures("loaded")
def test_bloc_iri_answers_json_with_activities_competencies_and_criteria(
    client: FlaskClient,
) -> None:
    data = client.get("/referentiels/diplovis-bgdc/bloc-2", headers=JSON).json
    assert data["type"] == "Bloc" and data["framework"] == f"{BASE}/referentiels/diplovis-bgdc"
    assert [a["key"] for a in data["activities"]] == ["A5", "A6", "A7"]
    assert len(data["competencies"]) == 14
    assert data["competencies"][0] == f"{BASE}/referentiels/diplovis-bgdc/bloc-2/C1"
    assert len(data["criteria"]) == 10 and len(data["modalities"]) == 5
    assert sum(len(a["competencies"]) for a in data["activities"]) == 14


@pytest.mark.usefixtures("loaded")
def test_competency_iri_answers_json_with_text_and_xapi_definition(client: FlaskClient) -> None:
    slash = client.get("/referentiels/diplovis-bgdc/bloc-1/C10/", headers=JSON)
    data = client.get("/referentiels/diplovis-bgdc/bloc-1/C10", headers=JSON).json
    assert slash.status_code == 200 and slash.json == data
    assert data["id"] == f"{BASE}/referentiels/diplovis-bgdc/bloc-1/C10"
    assert data["type"] == "Competency"
    assert data["bloc"] == f"{BASE}/referentiels/diplovis-bgdc/bloc-1"
    assert data["text"].startswith("Assurer le service après-vente")
    assert data["activity"]["key"] == "A3"
    assert data["definition"]["type"] == "http://adlnet.gov/expapi/activities/objective"
    assert data["retired_at"] is None


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/referentiels/nope", "no référentiel 'nope'"),
        ("/referentiels/diplovis-bgdc/bloc-9", "no bloc 'bloc-9' in référentiel 'diplovis-bgdc'"),
        ("/referentiels/diplovis-bgdc/bloc-1/C99", "no competency 'C99' in diplovis-bgdc/bloc-1"),
        ("/referentiels/nope.csv", "no référentiel 'nope'"),
    ],
)
def test_unknown_iris_are_404_with_a_reason(client: FlaskClient, path: str, reason: str) -> None:
    api = client.get(path, headers=JSON)
    assert api.status_code == 404 and api.json == {"error": reason, "status": 404}
    page = client.get(path, headers=HTML)
    assert page.status_code == 404 and reason in page.get_data(as_text=True).replace("&#39;", "'")


def test_a_retired_competency_still_resolves_and_says_so(
    app: Flask, client: FlaskClient, diplovis_data: dict[str, Any]
) -> None:
    with app.app_context():
        load_document(db.session, read_builtin("diplovis-bgdc"))
        diplovis_data["blocs"][0]["competencies"].pop()
        load_document(db.session, parse_data(diplovis_data, source="revision.json"))
        db.session.commit()
    data = client.get("/referentiels/diplovis-bgdc/bloc-1/C15", headers=JSON).json
    assert data["retired_at"] is not None
    bloc = client.get("/referentiels/diplovis-bgdc/bloc-1", headers=JSON).json
    assert f"{BASE}/referentiels/diplovis-bgdc/bloc-1/C15" not in bloc["competencies"]
    page = client.get("/referentiels/diplovis-bgdc/bloc-1/C15", headers=HTML)
    assert "a été retirée du référentiel" in page.get_data(as_text=True)


@pytest.mark.usefixtures("loaded")
def test_moodle_csv_download_is_the_cli_export(client: FlaskClient, runner: FlaskCliRunner) -> None:
    response = client.get("/referentiels/diplovis-bgdc.csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert 'filename="diplovis-bgdc.csv"' in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert (
        text
        == runner.invoke(
            main, ["referentiel", "export", "diplovis-bgdc", "--format", "moodle-csv"]
        ).output
    )
    assert len(list(csv.reader(io.StringIO(text)))) == 115


@pytest.mark.usefixtures("loaded")
def test_case_service_paths(client: FlaskClient) -> None:
    documents = client.get("/ims/case/v1p0/CFDocuments").json["CFDocuments"]
    assert [d["title"] for d in documents] == [
        "DIPLOVIS - Bachelor en gestion et développement commercial"
    ]
    identifier = documents[0]["identifier"]
    package = client.get(f"/ims/case/v1p0/CFPackages/{identifier}").json
    assert package == client.get("/referentiels/diplovis-bgdc.case.json").json
    assert documents[0]["CFPackageURI"]["uri"] == f"{BASE}/ims/case/v1p0/CFPackages/{identifier}"
    assert client.get(f"/ims/case/v1p0/CFDocuments/{identifier}").json == package["CFDocument"]
    item = package["CFItems"][-1]
    assert client.get(f"/ims/case/v1p0/CFItems/{item['identifier']}").json == item
    association = package["CFAssociations"][0]
    assert (
        client.get(f"/ims/case/v1p0/CFAssociations/{association['identifier']}").json == association
    )
    linked = client.get(f"/ims/case/v1p0/CFItemAssociations/{item['identifier']}").json
    assert linked["CFItem"] == item and len(linked["CFAssociations"]) == 1
    rubric = package["CFRubrics"][0]
    assert client.get(f"/ims/case/v1p0/CFRubrics/{rubric['identifier']}").json == rubric


def test_case_serves_a_revised_referentiel_at_once(
    app: Flask, client: FlaskClient, diplovis_data: dict[str, Any]
) -> None:
    """Packages are kept between requests: a revision must still show at the next one."""
    with app.app_context():
        load_document(db.session, read_builtin("diplovis-bgdc"))
        db.session.commit()
    identifier = client.get("/ims/case/v1p0/CFDocuments").json["CFDocuments"][0]["identifier"]
    before = client.get(f"/ims/case/v1p0/CFPackages/{identifier}").json
    diplovis_data["title"] = "DIPLOVIS - Bachelor révisé"
    with app.app_context():
        load_document(db.session, parse_data(diplovis_data, source="revision.json"))
        db.session.commit()
    after = client.get(f"/ims/case/v1p0/CFPackages/{identifier}").json
    assert after["CFDocument"]["title"] == "DIPLOVIS - Bachelor révisé"
    assert before["CFDocument"]["title"] != after["CFDocument"]["title"]
    assert after["CFDocument"]["lastChangeDateTime"] >= before["CFDocument"]["lastChangeDateTime"]


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize(
    ("identifier", "description"),
    [("not-a-uuid", "Invalid UUID"), ("0b8f8a36-3d5c-5e5a-9c39-000000000000", "Unknown Object")],
)
def test_case_unknown_identifier_is_404_with_imsx_status(
    client: FlaskClient, identifier: str, description: str
) -> None:
    for path in ("CFPackages", "CFDocuments", "CFItems", "CFAssociations", "CFRubrics"):
        response = client.get(f"/ims/case/v1p0/{path}/{identifier}")
        assert response.status_code == 404
        assert response.json["imsx_codeMajor"] == "failure"
        assert response.json["imsx_description"] == description
