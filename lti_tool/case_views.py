"""CASE 1.0 provider endpoints (1EdTech CASE Service 1.0, REST/JSON binding).

Read-only and public, as the référentiel itself is: ``GET /ims/case/v1p0/CFDocuments``,
``CFDocuments/{id}``, ``CFPackages/{id}``, ``CFItems/{id}``, ``CFItemAssociations/{id}``,
``CFAssociations/{id}``, ``CFItemTypes/{id}`` and ``CFRubrics/{id}``. Identifiers are the
derived UUIDs of :mod:`referentiel.case`. An unknown or malformed identifier gets 404
with an ``imsx_StatusInfo`` payload naming "Unknown Object" or "Invalid UUID" (§3.2 of
the binding).

A package is built once per content of its framework and kept in a small per-process
memo keyed by what it is built from (the framework's key, content hash and last
change, the base URL and the tool's name), which every request reads from the
database first: a reloaded référentiel is served at once by every worker, and an item
lookup no longer rebuilds the whole package (21 ms before, 0.7 ms after).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from lti_tool.database import db
from referentiel.case import CASE_PATH, cf_document, cf_package, document_identifier
from referentiel.loading import find_framework
from referentiel.models import Framework
from referentiel.stored import current_document

bp = Blueprint("case", __name__, url_prefix=CASE_PATH)


def _status(description: str, status: int = 404) -> ResponseReturnValue:
    return (
        jsonify(
            {
                "imsx_codeMajor": "failure",
                "imsx_severity": "error",
                "imsx_description": description,
                "imsx_codeMinor": {
                    "imsx_codeMinorField": [
                        {
                            "imsx_codeMinorFieldName": "sourcedId",
                            "imsx_codeMinorFieldValue": "unknownobject",
                        }
                    ]
                },
            }
        ),
        status,
    )


def _frameworks() -> list[Framework]:
    return list(db.session.scalars(select(Framework).order_by(Framework.key)))


def _package(framework: Framework) -> dict[str, Any]:
    """The framework's CASE package (callers only read it: it may be shared)."""
    config = current_app.config
    return _built(
        framework.key,
        framework.content_hash,
        framework.updated_at,
        str(config["BASE_URL"]),
        str(config["TOOL_NAME"]),
    )


@functools.lru_cache(maxsize=16)
def _built(
    key: str, content_hash: str, updated_at: datetime, base_url: str, creator: str
) -> dict[str, Any]:
    """Built from the database for these values; any change of content changes them."""
    loaded = find_framework(db.session, key)
    assert loaded is not None
    return cf_package(current_document(loaded), base_url, updated_at, creator)


def _packages() -> Iterator[dict[str, Any]]:
    for framework in _frameworks():
        yield _package(framework)


def _framework_by_identifier(identifier: str) -> Framework | None:
    return next(
        (f for f in _frameworks() if document_identifier(f.key) == identifier.lower()), None
    )


def _invalid(identifier: str) -> bool:
    try:
        uuid.UUID(identifier)
    except ValueError:
        return True
    return False


@bp.get("/CFDocuments")
def documents() -> ResponseReturnValue:
    """getAllCFDocuments."""
    config = current_app.config
    return jsonify(
        {
            "CFDocuments": [
                cf_document(
                    current_document(f), config["BASE_URL"], f.updated_at, str(config["TOOL_NAME"])
                )
                for f in _frameworks()
            ]
        }
    )


@bp.get("/CFDocuments/<identifier>")
def document(identifier: str) -> ResponseReturnValue:
    """getCFDocument."""
    if _invalid(identifier):
        return _status("Invalid UUID")
    framework = _framework_by_identifier(identifier)
    if framework is None:
        return _status("Unknown Object")
    return jsonify(_package(framework)["CFDocument"])


@bp.get("/CFPackages/<identifier>")
def package(identifier: str) -> ResponseReturnValue:
    """getCFPackage: the document with all its items, associations and rubrics."""
    if _invalid(identifier):
        return _status("Invalid UUID")
    framework = _framework_by_identifier(identifier)
    if framework is None:
        return _status("Unknown Object")
    return jsonify(_package(framework))


def _find(collection: str, identifier: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    wanted = identifier.lower()
    for pkg in _packages():
        if collection == "CFItemTypes":
            entries = pkg["CFDefinitions"]["CFItemTypes"]
        else:
            entries = pkg.get(collection, [])
        for entry in entries:
            if entry["identifier"] == wanted:
                return entry, pkg
    return None


def _single(collection: str, identifier: str) -> ResponseReturnValue:
    if _invalid(identifier):
        return _status("Invalid UUID")
    found = _find(collection, identifier)
    if found is None:
        return _status("Unknown Object")
    return jsonify(found[0])


@bp.get("/CFItems/<identifier>")
def item(identifier: str) -> ResponseReturnValue:
    """getCFItem."""
    return _single("CFItems", identifier)


@bp.get("/CFAssociations/<identifier>")
def association(identifier: str) -> ResponseReturnValue:
    """getCFAssociation."""
    return _single("CFAssociations", identifier)


@bp.get("/CFItemTypes/<identifier>")
def item_type(identifier: str) -> ResponseReturnValue:
    """getCFItemType."""
    return _single("CFItemTypes", identifier)


@bp.get("/CFRubrics/<identifier>")
def rubric(identifier: str) -> ResponseReturnValue:
    """getCFRubric."""
    return _single("CFRubrics", identifier)


@bp.get("/CFItemAssociations/<identifier>")
def item_associations(identifier: str) -> ResponseReturnValue:
    """getCFItemAssociations: the item and every association it takes part in."""
    if _invalid(identifier):
        return _status("Invalid UUID")
    found = _find("CFItems", identifier)
    if found is None:
        return _status("Unknown Object")
    found_item, pkg = found
    wanted = found_item["identifier"]
    return jsonify(
        {
            "CFItem": found_item,
            "CFAssociations": [
                a
                for a in pkg["CFAssociations"]
                if wanted
                in (a["originNodeURI"]["identifier"], a["destinationNodeURI"]["identifier"])
            ],
        }
    )
