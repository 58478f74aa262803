"""CASE 1.0 CFPackage: valid against the CFPackage schema, identifiers that never change."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from referentiel.case import cf_package
from referentiel.data_file import parse_data
from referentiel.document import FrameworkDocument

SCHEMA = Path(__file__).parent / "schemas" / "case-v1p0-cfpackage.schema.json"
BASE = "https://tool.example"
WHEN = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def identifiers(package: dict[str, Any]) -> list[str]:
    found = [package["CFDocument"]["identifier"]]
    found += [i["identifier"] for i in package["CFItems"]]
    found += [a["identifier"] for a in package["CFAssociations"]]
    for rubric in package.get("CFRubrics", []):
        found += [rubric["identifier"], *(c["identifier"] for c in rubric["CFRubricCriteria"])]
    return found


def test_package_is_valid_against_the_case_1_0_schema(
    diplovis: FrameworkDocument, validator: Draft7Validator
) -> None:
    package = cf_package(diplovis, BASE, WHEN, "Compétences DIPLOVIS")
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(package)]
    assert errors == []


def test_the_schema_check_catches_a_missing_required_field(
    diplovis: FrameworkDocument, validator: Draft7Validator
) -> None:
    package = cf_package(diplovis, BASE, WHEN)
    del package["CFItems"][3]["fullStatement"]
    package["CFAssociations"][0]["associationType"] = "isParentOf"
    assert len(list(validator.iter_errors(package))) == 2


def test_document_items_and_associations_describe_the_tree(diplovis: FrameworkDocument) -> None:
    package = cf_package(diplovis, BASE, WHEN)
    items = {i["identifier"]: i for i in package["CFItems"]}
    types = [i["CFItemType"] for i in package["CFItems"]]
    assert (types.count("Bloc"), types.count("Activité"), types.count("Compétence")) == (8, 29, 105)
    parents: dict[str, str] = {}
    for association in package["CFAssociations"]:
        assert association["associationType"] == "isChildOf"
        child = association["originNodeURI"]["identifier"]
        assert child not in parents  # exactly one parent each
        parents[child] = association["destinationNodeURI"]["identifier"]
    assert set(parents) == set(items)
    document = package["CFDocument"]["identifier"]
    c1 = next(
        i for i in package["CFItems"] if i["uri"] == f"{BASE}/referentiels/diplovis-bgdc/bloc-1/C1"
    )
    assert c1["humanCodingScheme"] == "C1" and c1["fullStatement"].startswith("Prendre en charge")
    activity = items[parents[c1["identifier"]]]
    assert activity["CFItemType"] == "Activité" and activity["humanCodingScheme"] == "A1"
    bloc = items[parents[activity["identifier"]]]
    assert bloc["uri"] == f"{BASE}/referentiels/diplovis-bgdc/bloc-1"
    assert parents[bloc["identifier"]] == document
    criteria = [c for r in package["CFRubrics"] for c in r["CFRubricCriteria"]]
    assert len(package["CFRubrics"]) == 8 and len(criteria) == 86


def test_identifiers_are_uuid5_derived_and_identical_from_one_export_to_the_next(
    diplovis: FrameworkDocument,
) -> None:
    first = identifiers(cf_package(diplovis, BASE, WHEN))
    assert first == identifiers(cf_package(diplovis, BASE, WHEN))
    assert len(first) == len(set(first))
    assert all(uuid.UUID(i).version == 5 for i in first)
    # Neither the host nor the date takes part in an identifier.
    assert first == identifiers(cf_package(diplovis, "http://other.host", datetime.now(UTC)))


def test_identifiers_survive_a_revision_of_the_texts(
    diplovis: FrameworkDocument, diplovis_data: dict[str, Any]
) -> None:
    diplovis_data["blocs"][0]["competencies"][0]["text"] = "Texte révisé"
    revised = parse_data(diplovis_data, source="revision.json")
    before = cf_package(diplovis, BASE, WHEN)
    after = cf_package(revised, BASE, WHEN)
    assert identifiers(before) == identifiers(after)
    assert before["CFItems"] != after["CFItems"]
