"""HTTP side of the State, Activity Profile and Agent Profile resources (xAPI 1.0.3
Communication §2.3, §2.6, §2.7): parameters in, a :class:`xapi.documents.Scope` out,
then ``xapi.documents`` does the work. The routes are in ``lti_tool/xapi_views.py``,
which reads the request (alternate syntax included), checks the version header and
the credentials first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Response
from sqlalchemy.orm import Session

from xapi import documents, json_text
from xapi.credentials import Caller
from xapi.documents import ACTIVITY_PROFILE, AGENT_PROFILE, STATE, Preconditions, Scope
from xapi.exceptions import BadRequest, InvalidStatement
from xapi.models import Document
from xapi.multipart import media_type
from xapi.validation import StatementValidator, iri, parse_timestamp, uuid

if TYPE_CHECKING:
    from lti_tool.xapi_views import XapiRequest

# Per resource: the parameters that name its scope, and the one that names a document.
_SCOPE_PARAMETERS = {
    STATE: ("activityId", "agent", "registration"),
    ACTIVITY_PROFILE: ("activityId",),
    AGENT_PROFILE: ("agent",),
}
_DOCUMENT_PARAMETER = {STATE: "stateId", ACTIVITY_PROFILE: "profileId", AGENT_PROFILE: "profileId"}


def answer(session: Session, xreq: XapiRequest, caller: Caller, resource: str) -> Response:
    """Act on the request; the caller commits."""
    params = xreq.params
    name = _DOCUMENT_PARAMETER[resource]
    allowed = {*_SCOPE_PARAMETERS[resource], name, "since"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {unknown}")
    scope = _scope(params, caller, resource)
    document_id = params.get(name)
    method = xreq.method
    if method in ("GET", "HEAD"):
        if document_id is None:
            since = (
                _checked(parse_timestamp, params["since"], "since") if "since" in params else None
            )
            listed = documents.document_ids(session, _all_registrations(scope, params), since)
            return Response(json.dumps(listed), mimetype="application/json")
        if "since" in params:
            raise BadRequest(f"since goes with a list of documents, not with {name}")
        return _document_response(documents.get_document(session, scope, document_id))
    if "since" in params:
        raise BadRequest(f"since is a parameter of GET only, not of {method}")
    preconditions = Preconditions(xreq.headers.get("If-Match"), xreq.headers.get("If-None-Match"))
    if method == "DELETE":
        if document_id is not None:
            documents.delete_document(session, scope, document_id, preconditions)
        elif resource == STATE:
            documents.delete_documents(session, _all_registrations(scope, params))
        else:
            raise BadRequest(f"DELETE needs the {name} parameter")
        return Response(status=204)
    if method not in ("PUT", "POST"):
        raise BadRequest(f"method {method} is not allowed on this resource")
    if document_id is None:
        raise BadRequest(f"{method} needs the {name} parameter")
    documents.write_document(
        session,
        scope,
        document_id,
        xreq.body,
        media_type(xreq.content_type),
        preconditions,
        merge=method == "POST",
    )
    return Response(status=204)


def _scope(params: dict[str, str], caller: Caller, resource: str) -> Scope:
    wanted = _SCOPE_PARAMETERS[resource]
    for required in wanted:
        if required != "registration" and not params.get(required):
            raise BadRequest(f"the {required} parameter is required")
    activity_id = params.get("activityId", "") if "activityId" in wanted else ""
    if activity_id:
        _checked(iri, activity_id, "activityId")
    agent = _agent(params["agent"]) if "agent" in wanted else None
    registration = params.get("registration", "") if "registration" in wanted else ""
    if registration:
        _checked(uuid, registration, "registration")
    return Scope(
        realm=caller.platform_issuer or "",
        resource=resource,
        activity_id=activity_id,
        agent=agent,
        registration=registration.lower(),
    )


def _all_registrations(scope: Scope, params: dict[str, str]) -> Scope:
    """Without the registration parameter, a list or a DELETE of states covers them all."""
    if scope.resource != STATE or "registration" in params:
        return scope
    return Scope(scope.realm, scope.resource, scope.activity_id, scope.agent, None)


def _agent(text: str) -> dict[str, Any]:
    try:
        agent = json_text.loads(text)
        StatementValidator().agent(agent, "agent")
    except (ValueError, InvalidStatement) as error:
        raise BadRequest(f"parameter agent: {error}") from None
    if not isinstance(agent, dict):
        raise BadRequest("parameter agent: a JSON object is required")
    return agent


def _checked(check: Any, value: str, name: str) -> Any:
    try:
        return check(value, name)
    except InvalidStatement as error:
        raise BadRequest(f"parameter {error}") from None


def _document_response(document: Document) -> Response:
    response = Response(document.content, content_type=document.content_type)
    response.set_etag(document.etag)
    response.last_modified = document.updated
    return response
