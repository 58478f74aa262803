"""Error handlers: JSON to API clients, an HTML page to people, never a stack trace.

Domain exceptions are translated to HTTP here, at the edge, and nowhere else.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from pylti1p3.exception import LtiException, OIDCException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from lti_tool.access import LaunchRequired
from lti_tool.exceptions import Forbidden, LtiToolError, NotFound
from referentiel.exceptions import InvalidReferentiel, ReferentielError, ReferentielNotFound
from xapi.exceptions import (
    DocumentConflict,
    DocumentNotFound,
    ForbiddenStatement,
    PreconditionFailed,
    StatementConflict,
    StatementNotFound,
    Unauthorized,
    XapiError,
)

log = logging.getLogger(__name__)


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" or request.path.startswith(("/xapi", "/ims/", "/api/"))


def error_response(status: int, reason: str) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"error": reason, "status": status}), status
    return render_template("error.html", status=status, reason=reason), status


def _status_for(error: Exception) -> int:
    if isinstance(error, NotFound | ReferentielNotFound | StatementNotFound | DocumentNotFound):
        return 404
    if isinstance(error, Forbidden | ForbiddenStatement):
        return 403
    if isinstance(error, LaunchRequired):
        return 401
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, StatementConflict | DocumentConflict):
        return 409
    if isinstance(error, PreconditionFailed):
        return 412
    if isinstance(error, InvalidReferentiel):
        return 400
    return 400


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response | str, int]:
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(LtiToolError)
    @app.errorhandler(ReferentielError)
    def _domain(error: Exception) -> tuple[Response | str, int]:
        status = _status_for(error)
        log.info("request refused (%s): %s", status, error)
        return error_response(status, str(error))

    @app.errorhandler(XapiError)
    def _xapi(error: XapiError) -> tuple[Response | str, int]:
        # xAPI 1.0.3 Communication §3.2: malformed input is 400 (never 422), and a 401
        # names the scheme the client must use.
        status = _status_for(error)
        log.info("xAPI request refused (%s): %s", status, error)
        response, status = error_response(status, str(error))
        if status == 401 and isinstance(response, Response):
            response.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        return response, status

    @app.errorhandler(LtiException)
    @app.errorhandler(OIDCException)
    def _lti(error: Exception) -> tuple[Response | str, int]:
        # pylti1p3's own refusals (login and launch); its messages name no secret.
        log.info("LTI message refused: %s", error)
        return error_response(400, f"LTI request refused: {error}")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(error: DBAPIError) -> tuple[Response | str, int]:
        # The database went away (a restart, a dropped connection) or stayed busy past
        # the wait: nothing was written, and the client may send the request again.
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.path,
            type(error.orig).__name__,
        )
        response, status = error_response(503, "The database is unavailable: try again shortly.")
        if isinstance(response, Response):
            response.headers["Retry-After"] = "1"
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response | str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "Internal error: the operator has been told in the logs.")
