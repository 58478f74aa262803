"""The référentiel's IRIs resolve: an HTML page for people, JSON for machines.

``{BASE}/referentiels/{framework}[/{bloc}[/{code}]]`` are the activity ids xAPI
statements name (xAPI 1.0.3 Data §2.4.4.1: an activity id SHOULD resolve to its
metadata), so the JSON form carries an xAPI activity ``definition`` beside the
référentiel's own fields. The framework's Moodle CSV and CASE package are served
beside it as ``{framework}.csv`` and ``{framework}.case.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from sqlalchemy import select

from lti_tool.database import db
from lti_tool.errors import wants_json
from lti_tool.i18n import SUPPORTED_LOCALES
from referentiel.exceptions import ReferentielNotFound
from referentiel.exports import export_framework
from referentiel.loading import find_framework
from referentiel.lookup import bloc_iri, competency_iri, framework_iri
from referentiel.models import Bloc, Competency, Framework

bp = Blueprint("referentiel", __name__)

OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"


def _base() -> str:
    return str(current_app.config["BASE_URL"])


def _framework(key: str) -> Framework:
    framework = find_framework(db.session, key)
    if framework is None:
        raise ReferentielNotFound(f"no référentiel {key!r}")
    return framework


def _bloc(framework: Framework, key: str) -> Bloc:
    bloc = next((b for b in framework.blocs if b.key == key), None)
    if bloc is None:
        raise ReferentielNotFound(f"no bloc {key!r} in référentiel {framework.key!r}")
    return bloc


def _competency(bloc: Bloc, code: str) -> Competency:
    competency = next((c for c in bloc.competencies if c.code == code), None)
    if competency is None:
        raise ReferentielNotFound(f"no competency {code!r} in {bloc.framework.key}/{bloc.key}")
    return competency


def _negotiated(
    template: str, data: dict[str, Any], language: str = "fr", **context: Any
) -> ResponseReturnValue:
    if wants_json():
        response = jsonify(data)
    else:
        # The référentiel is written in one language: the whole page speaks it, whatever
        # the browser prefers, so that lang and the texts agree.
        with force_locale(language if language in SUPPORTED_LOCALES else "fr"):
            response = Response(render_template(template, data=data, **context))
    response.vary.add("Accept")
    return response


def _retired(row: Bloc | Competency) -> str | None:
    return row.retired_at.isoformat() if row.retired_at else None


def framework_data(framework: Framework) -> dict[str, Any]:
    base = _base()
    iri = framework_iri(base, framework)
    return {
        "id": iri,
        "type": "Framework",
        "key": framework.key,
        "version": framework.version,
        "title": framework.title,
        "abbreviation": framework.abbreviation,
        "language": framework.language,
        "description": framework.description,
        "jury": framework.jury,
        "rncp_code": framework.rncp_code,
        "blocs": [bloc_iri(base, b) for b in framework.blocs if b.retired_at is None],
        "exports": {
            "moodle-csv": f"{iri}.csv",
            "case-json": f"{iri}.case.json",
        },
        "definition": {
            "name": {framework.language: framework.title},
            "description": {framework.language: framework.description},
            "type": OBJECTIVE,
        },
    }


def bloc_data(bloc: Bloc) -> dict[str, Any]:
    base = _base()
    language = bloc.framework.language
    return {
        "id": bloc_iri(base, bloc),
        "type": "Bloc",
        "framework": framework_iri(base, bloc.framework),
        "key": bloc.key,
        "number": bloc.number,
        "title": bloc.title,
        "description": bloc.description,
        "optional": bloc.optional,
        "option_group": bloc.option_group,
        "retired_at": _retired(bloc),
        "activities": [
            {
                "key": a.key,
                "number": a.number,
                "title": a.title,
                "competencies": [
                    competency_iri(base, c)
                    for c in bloc.competencies
                    if c.activity_id == a.id and c.retired_at is None
                ],
            }
            for a in bloc.activities
            if a.retired_at is None
        ],
        "competencies": [
            competency_iri(base, c) for c in bloc.competencies if c.retired_at is None
        ],
        "modalities": list(bloc.modalities),
        "criteria": [
            {"key": c.key, "text": c.text, "competencies": list(c.competency_codes)}
            for c in bloc.criteria
            if c.retired_at is None
        ],
        "definition": {
            "name": {language: f"{bloc.key} : {bloc.title}"},
            "description": {language: bloc.description or bloc.title},
            "type": OBJECTIVE,
        },
    }


def competency_data(competency: Competency) -> dict[str, Any]:
    base = _base()
    bloc = competency.bloc
    language = bloc.framework.language
    activity = competency.activity
    return {
        "id": competency_iri(base, competency),
        "type": "Competency",
        "framework": framework_iri(base, bloc.framework),
        "bloc": bloc_iri(base, bloc),
        "code": competency.code,
        "text": competency.text,
        "activity": (
            {"key": activity.key, "number": activity.number, "title": activity.title}
            if activity is not None
            else None
        ),
        "retired_at": _retired(competency),
        "definition": {
            "name": {language: f"{competency.code} ({bloc.key})"},
            "description": {language: competency.text},
            "type": OBJECTIVE,
        },
    }


@bp.get("/referentiels")
def index() -> ResponseReturnValue:
    frameworks = db.session.scalars(select(Framework).order_by(Framework.key)).all()
    data = {"frameworks": [framework_iri(_base(), f) for f in frameworks]}
    return _negotiated("referentiel/index.html", data, frameworks=frameworks)


@bp.get("/referentiels/<framework_key>", strict_slashes=False)
def framework_page(framework_key: str) -> ResponseReturnValue:
    framework = _framework(framework_key)
    return _negotiated("referentiel/framework.html", framework_data(framework), framework=framework)


@bp.get("/referentiels/<framework_key>.csv")
def moodle_csv(framework_key: str) -> ResponseReturnValue:
    return _download(framework_key, "moodle-csv")


@bp.get("/referentiels/<framework_key>.case.json")
def case_json(framework_key: str) -> ResponseReturnValue:
    return _download(framework_key, "case-json")


def _download(framework_key: str, fmt: str) -> Response:
    exported = export_framework(
        _framework(framework_key),
        fmt,
        base_url=_base(),
        creator=str(current_app.config["TOOL_NAME"]),
    )
    response = Response(exported.text.encode("utf-8"), content_type=exported.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    return response


@bp.get("/referentiels/<framework_key>/<bloc_key>", strict_slashes=False)
def bloc_page(framework_key: str, bloc_key: str) -> ResponseReturnValue:
    bloc = _bloc(_framework(framework_key), bloc_key)
    return _negotiated("referentiel/bloc.html", bloc_data(bloc), bloc.framework.language, bloc=bloc)


@bp.get("/referentiels/<framework_key>/<bloc_key>/<code>", strict_slashes=False)
def competency_page(framework_key: str, bloc_key: str, code: str) -> ResponseReturnValue:
    competency = _competency(_bloc(_framework(framework_key), bloc_key), code)
    return _negotiated(
        "referentiel/competency.html",
        competency_data(competency),
        competency.bloc.framework.language,
        competency=competency,
    )
