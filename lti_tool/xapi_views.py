"""The xAPI Statements and About resources (xAPI 1.0.3 Communication §2.1, §2.8).

Thin: each request is read into an :class:`XapiRequest` (so the alternate request
syntax of Communication §1.3 is the same code path), authenticated, then handed to
``xapi.statements_store`` / ``xapi.statement_query``. Errors are raised as ``xapi``
exceptions and turned into statuses in ``lti_tool/errors.py``; every answer under
``/xapi`` carries ``X-Experience-API-Version``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge

from lti_tool import evidence_drainer, xapi_document_views
from lti_tool.database import db, write_turn
from xapi import credentials as xapi_credentials
from xapi import json_text
from xapi.activity_definitions import activity_object, person_object
from xapi.credentials import Caller
from xapi.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE
from xapi.exceptions import BadRequest, DocumentConflict, InvalidStatement, Unauthorized
from xapi.models import Attachment
from xapi.multipart import build_multipart, parse_multipart
from xapi.statement_formats import formatted
from xapi.statement_query import (
    SINGLE_PARAMETERS,
    find_statements,
    get_statement,
    more_token,
    parse_format,
    parse_query,
    query_from_token,
)
from xapi.statements_store import (
    AttachmentPart,
    PreparedStatements,
    StoreResult,
    attachment_hashes,
    format_stored,
    now_ms,
    parse_body,
    prepare_statements,
    statement_document,
    write_as_one_statement,
    write_statements,
)
from xapi.validation import StatementValidator, iri, uuid

bp = Blueprint("xapi", __name__)

SUPPORTED_VERSIONS = ["1.0.3", "2.0.0"]
VERSION_RE = re.compile(r"^(1\.0|2\.0)(\.\d+)?\Z")
ALTERNATE_HEADERS = {
    "authorization",
    "x-experience-api-version",
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
}


ALTERNATE_BODY_HEADERS = {"content-type", "content-length"}


@dataclass
class XapiRequest:
    method: str
    params: dict[str, str]
    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def response_version() -> str:
    return str(g.get("xapi_version", SUPPORTED_VERSIONS[0]))


@bp.before_request
def _limit_body() -> None:
    """Bodies above XAPI_MAX_BODY_BYTES (statements and their attachments) get 413."""
    limit = int(current_app.config["XAPI_MAX_BODY_BYTES"])
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"an xAPI request body is limited to {limit} bytes")
    request.max_content_length = limit  # bodies sent without a length


@bp.after_app_request
def _version_header(response: Response) -> Response:
    """Every answer of the LRS names its xAPI version, errors included (§3.3)."""
    if request.path.startswith("/xapi"):
        response.headers["X-Experience-API-Version"] = response_version()
        if request.path.startswith("/xapi/statements"):
            # Communication §2.1.3: on every answer of the Statements resource, errors too.
            response.headers["X-Experience-API-Consistent-Through"] = format_stored(now_ms())
    return response


def _check_version(headers: Headers) -> None:
    value = headers.get("X-Experience-API-Version")
    if value is None:
        raise BadRequest("the X-Experience-API-Version header is required")
    if not VERSION_RE.match(value.strip()):
        raise BadRequest(f"xAPI version {value!r} is not supported (use 1.0.3)")
    g.xapi_version = "2.0.0" if value.startswith("2.") else "1.0.3"


def _authenticate(headers: Headers, executor: Session | Connection | None = None) -> Caller:
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("HTTP Basic credentials are required")
    try:
        key, sep, secret = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed HTTP Basic credentials") from None
    if not sep:
        raise Unauthorized("malformed HTTP Basic credentials")
    return xapi_credentials.authenticate(executor or db.session, key, secret)


def _read_request() -> XapiRequest:
    """The request, or the one an alternate-syntax POST carries (Communication §1.3)."""
    args = dict(request.args.items())
    if "method" not in args:
        # The request's own headers, read-only: nothing changes them (a copy cost 10 µs).
        return XapiRequest(request.method, args, request.headers, request.get_data())
    if request.method != "POST":
        raise BadRequest("the method parameter is only allowed on POST")
    if set(args) != {"method"}:
        raise BadRequest("with the alternate request syntax, every parameter goes in the body")
    if request.mimetype != "application/x-www-form-urlencoded":
        raise BadRequest("the alternate request syntax needs application/x-www-form-urlencoded")
    # The body is read through request.form: other hooks (the launch lookup) may have
    # parsed it already, after which the raw stream is empty.
    items = list(request.form.items())
    if items and items[0][0].startswith('"') and items[-1][1].endswith('"'):
        # Some clients (the ADL suite's among them) send the form as a JSON string.
        items[0] = (items[0][0][1:], items[0][1])
        items[-1] = (items[-1][0], items[-1][1][:-1])
    form = dict(items)
    # Real headers count too; the form's header fields win (Communication §1.3).
    headers = Headers(
        [(k, v) for k, v in request.headers.items() if k.lower() not in ALTERNATE_BODY_HEADERS]
    )
    params: dict[str, str] = {}
    for name, value in form.items():
        if name.lower() in ALTERNATE_HEADERS:
            if any(char in value for char in "\r\n\x00"):
                raise BadRequest(f"the form field {name} holds a line break or a NUL character")
            headers.set(name, value)
        elif name != "content":
            params[name] = value
    content = form.get("content", "").encode("utf-8")
    method = args["method"].upper()
    if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        raise BadRequest(f"unknown method {args['method']!r}")
    return XapiRequest(method, params, headers, content)


@bp.get("/about")
def about() -> ResponseReturnValue:
    """The LRS's versions (Communication §2.8); no authentication needed."""
    return Response(
        json.dumps({"version": SUPPORTED_VERSIONS}), mimetype="application/json", status=200
    )


@bp.route("/statements", methods=["GET", "HEAD", "PUT", "POST"])
def statements() -> ResponseReturnValue:
    """The Statements resource (Communication §2.1): version header and credentials
    first, then PUT, POST, or GET/HEAD."""
    xreq = _read_request()
    _check_version(xreq.headers)
    if xreq.method in ("GET", "HEAD"):
        return _get(xreq, _authenticate(xreq.headers))
    if xreq.method == "PUT":
        return _put(xreq)
    if xreq.method == "POST":
        return _post(xreq)
    raise BadRequest(f"method {xreq.method} is not allowed on the Statements resource")


@bp.route("/activities", methods=["GET", "HEAD"])
def activities() -> ResponseReturnValue:
    """The Activities resource (Communication §2.5): an activity's merged definition."""
    xreq = _read_request()
    _check_version(xreq.headers)
    _authenticate(xreq.headers)
    activity_id = xreq.params.get("activityId")
    if not activity_id:
        raise BadRequest("the activityId parameter is required")
    iri(activity_id, "activityId")
    return _json(activity_object(db.session, activity_id))


@bp.route("/agents", methods=["GET", "HEAD"])
def agents() -> ResponseReturnValue:
    """The Agents resource (Communication §2.4): the Person object of an agent."""
    xreq = _read_request()
    _check_version(xreq.headers)
    _authenticate(xreq.headers)
    if "agent" not in xreq.params:
        raise BadRequest("the agent parameter is required")
    try:
        agent = json_text.loads(xreq.params["agent"])
        StatementValidator().agent(agent, "agent")
    except (ValueError, InvalidStatement) as error:
        raise BadRequest(f"parameter agent: {error}") from None
    return _json(person_object(agent))


DOCUMENT_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE"]


@bp.route("/activities/state", methods=DOCUMENT_METHODS)
def state() -> ResponseReturnValue:
    """The State resource (Communication §2.3): an activity's documents for one agent."""
    return _document(STATE)


@bp.route("/activities/profile", methods=DOCUMENT_METHODS)
def activity_profile() -> ResponseReturnValue:
    """The Activity Profile resource (Communication §2.6)."""
    return _document(ACTIVITY_PROFILE)


@bp.route("/agents/profile", methods=DOCUMENT_METHODS)
def agent_profile() -> ResponseReturnValue:
    """The Agent Profile resource (Communication §2.7)."""
    return _document(AGENT_PROFILE)


def _document(resource: str) -> Response:
    xreq = _read_request()
    _check_version(xreq.headers)
    caller = _authenticate(xreq.headers)
    session = db.session
    try:
        response = xapi_document_views.answer(session, xreq, caller, resource)
        session.commit()
    except IntegrityError:
        session.rollback()  # the same document created by another request meanwhile
        raise DocumentConflict("the document was written concurrently: try again") from None
    return response


def _json(document: Any) -> Response:
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/json")


def _statements_in(xreq: XapiRequest) -> tuple[list[Any], bool, dict[str, AttachmentPart]]:
    content_type = xreq.content_type
    parts: dict[str, AttachmentPart] = {}
    if content_type == "multipart/mixed":
        text, parts = parse_multipart(xreq.body, xreq.headers.get("Content-Type", ""))
    elif content_type in ("application/json", ""):
        try:
            text = xreq.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the body is not UTF-8") from None
    else:
        raise BadRequest(
            f"Content-Type {content_type} is not accepted: use application/json or multipart/mixed"
        )
    if not text.strip():
        raise BadRequest("the request has no statement in its body")
    items, is_array = parse_body(text)
    return items, is_array, parts


def _store(xreq: XapiRequest, statement_id: str | None) -> list[str]:
    """Authenticate, validate, then store on a bare connection (no ORM session: the
    write path is the LRS's hottest): on PostgreSQL as one statement outside a
    transaction when it can be, else in one transaction, holding SQLite's write turn
    only for the writes; then have the statements derived."""
    engine = db.engine
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":  # see _write
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                credential = _authenticate(xreq.headers, connection)
                items, is_array, parts = _statements_in(xreq)
                if statement_id is not None and is_array:
                    raise BadRequest("PUT takes one statement, not an array")
                prepared = prepare_statements(
                    items,
                    authority=xapi_credentials.authority_agent(
                        credential, current_app.config["BASE_URL"]
                    ),
                    credential=credential,
                    statement_id=statement_id,
                    parts=parts,
                    version=response_version(),
                )
                result = _write(engine, connection, prepared)
        except IntegrityError:
            # Another request stored one of these ids meanwhile: compare again.
            if attempt == 2:
                raise
            continue
        evidence_drainer.statements_committed()
        return result.ids
    raise AssertionError("unreachable")


def _write(engine: Engine, connection: Connection, prepared: PreparedStatements) -> StoreResult:
    """Store prepared statements, committed. On PostgreSQL (the connection is in
    autocommit) as one atomic statement when they fit one, else in a transaction; on
    SQLite in a transaction, holding the writers' turn."""
    if engine.dialect.name == "postgresql":
        written = write_as_one_statement(connection, prepared)
        if written is not None:
            return written
        connection.commit()  # ends the credential's read: the writes need a transaction
        connection.execution_options(isolation_level=connection.default_isolation_level)
    with write_turn(engine):
        result = write_statements(connection, prepared)
        connection.commit()
    return result


def _put(xreq: XapiRequest) -> Response:
    """PUT ?statementId=: 204 No Content (Communication §2.1.1)."""
    unknown = set(xreq.params) - {"statementId"}
    if unknown:
        raise BadRequest(f"unknown parameter(s) for PUT: {sorted(unknown)}")
    statement_id = xreq.params.get("statementId")
    if not statement_id:
        raise BadRequest("PUT needs the statementId parameter")
    try:
        uuid(statement_id, "statementId")
    except Exception as error:
        raise BadRequest(f"parameter {error}") from None
    _store(xreq, statement_id)
    return Response(status=204)


def _post(xreq: XapiRequest) -> Response:
    """POST of one statement or an array: 200 with the ids in order (§2.1.2)."""
    if xreq.params:
        raise BadRequest(f"unknown parameter(s) for POST: {sorted(xreq.params)}")
    ids = _store(xreq, None)
    return Response(json.dumps(ids), status=200, mimetype="application/json")


def _languages() -> list[str]:
    return [value for value, _quality in request.accept_languages]


def _json_or_multipart(
    payload: Any, documents: list[dict[str, Any]], attachments: bool
) -> Response:
    text = json.dumps(payload, ensure_ascii=False)
    if not attachments:
        return Response(text, status=200, mimetype="application/json")
    hashes = attachment_hashes(documents)
    rows = (
        db.session.scalars(select(Attachment).where(Attachment.sha2.in_(hashes))).all()
        if hashes
        else []
    )
    by_hash = {row.sha2: row for row in rows}
    parts = [
        AttachmentPart(sha2=h, content_type=by_hash[h].content_type, content=by_hash[h].content)
        for h in hashes
        if h in by_hash
    ]
    body, content_type = build_multipart(text, parts)
    return Response(body, status=200, content_type=content_type)


def _get(xreq: XapiRequest, credential: Caller) -> Response:
    """One statement by id, or a filtered list with ``more`` (Communication §2.1.3)."""
    params = xreq.params
    single = [name for name in ("statementId", "voidedStatementId") if name in params]
    if single:
        if len(single) == 2 or set(params) - SINGLE_PARAMETERS:
            raise BadRequest(
                "statementId and voidedStatementId go alone (with format and attachments only)"
            )
        fmt, attachments = parse_format(params)
        row = get_statement(
            db.session,
            params[single[0]],
            voided=single[0] == "voidedStatementId",
            platform_issuer=credential.platform_issuer,
        )
        document = formatted(statement_document(row), fmt, _languages())
        response = _json_or_multipart(document, [document], attachments)
        response.last_modified = row.stored
        return response
    if "more" in params:
        if set(params) != {"more"}:
            raise BadRequest("the more parameter goes alone")
        query = query_from_token(params["more"], current_app.config["SECRET_KEY"])
    else:
        query = parse_query(params)
    rows, has_more = find_statements(db.session, query, credential.platform_issuer)
    documents = [formatted(statement_document(row), query.format, _languages()) for row in rows]
    more = ""
    if has_more and rows:
        token = more_token(query, rows[-1], current_app.config["SECRET_KEY"])
        more = f"{request.script_root}/xapi/statements?more={token}"
    response = _json_or_multipart(
        {"statements": documents, "more": more}, documents, query.attachments
    )
    if rows:
        response.last_modified = max(row.stored for row in rows)
    return response
