"""``{BASE}/xapi/profile``: the xAPI profile as JSON-LD for programs, a page for people."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy import select

from lti_tool.database import db
from referentiel.lookup import competency_iri
from referentiel.models import Bloc, Competency, Framework
from xapi.profile import OBJECTIVE, CompetencyConcept, profile_document

bp = Blueprint("xapi_profile", __name__)

JSON_LD = "application/ld+json"
FORMATS = {"json": JSON_LD, "jsonld": JSON_LD, "html": "text/html"}


def _competencies() -> list[CompetencyConcept]:
    base_url = current_app.config["BASE_URL"]
    rows = db.session.scalars(
        select(Competency)
        .join(Competency.bloc)
        .join(Bloc.framework)
        .where(Competency.retired_at.is_(None), Bloc.retired_at.is_(None))
        .order_by(Framework.key, Bloc.position, Competency.position)
    )
    return [
        CompetencyConcept(competency_iri(base_url, c), f"{c.bloc.key}/{c.code}", c.text)
        for c in rows
    ]


@bp.get("/profile")
def profile() -> Response | str:
    """The profile document (xAPI Profiles 1.0), or its explanation for a browser."""
    document = profile_document(
        current_app.config["BASE_URL"], current_app.config["TOOL_NAME"], _competencies()
    )
    wanted = FORMATS.get(request.args.get("format", "")) or request.accept_mimetypes.best_match(
        [JSON_LD, "application/json", "text/html"], default=JSON_LD
    )
    if wanted == "text/html":
        page = render_template(
            "xapi_profile.html",
            document=document,
            objective=OBJECTIVE,
            example=json.dumps(_example(document), ensure_ascii=False, indent=2),
        )
        response = Response(page, mimetype="text/html")
    else:
        body = json.dumps(document, ensure_ascii=False, indent=2)
        response = Response(body, mimetype=JSON_LD)
    response.headers["Vary"] = "Accept"
    return response


def _example(document: dict[str, object]) -> dict[str, object]:
    concepts = document.get("concepts")
    competency = (
        concepts[0]["id"]
        if isinstance(concepts, list) and concepts
        else f"{current_app.config['BASE_URL']}/referentiels/diplovis-bgdc/bloc-1/C1"
    )
    return {
        "actor": {"account": {"homePage": "https://moodle.example.org", "name": "42"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"fr": "a réussi"}},
        "object": {"id": "https://contenus.example.org/negociation/etude-de-cas-3"},
        "result": {"score": {"scaled": 0.85}, "success": True},
        "context": {
            "contextActivities": {
                "parent": [{"id": competency, "definition": {"type": OBJECTIVE}}],
                "category": [{"id": f"{document['id']}/v1"}],
            }
        },
    }
