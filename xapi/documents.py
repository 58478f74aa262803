"""The document resources: State, Activity Profile and Agent Profile (xAPI 1.0.3
Communication §2.3, §2.6, §2.7), with their concurrency rules (§3.1).

cmi5 content depends on them: an AU reads its launch data from the State resource and
the learner's preferences from the Agent Profile resource. A document is addressed by
a :class:`Scope` (which resource, activity, agent, registration) and its id; the
functions here take and return plain values and raise ``xapi`` exceptions, which the
web layer turns into statuses. The caller commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from referentiel.orm import utcnow
from xapi import json_text
from xapi.exceptions import BadRequest, DocumentConflict, DocumentNotFound, PreconditionFailed
from xapi.identifiers import digest, hashed_agent_key
from xapi.models import Document

STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Scope:
    """Which documents: a resource of one realm, for one activity and/or agent (and, for
    states, one registration: "" for none; None in :func:`document_ids` and
    :func:`delete_documents` means every registration)."""

    realm: str
    resource: str
    activity_id: str = ""
    agent: Mapping[str, Any] | None = None
    registration: str | None = ""

    @property
    def activity_key(self) -> str:
        return digest(self.activity_id) if self.activity_id else ""

    @property
    def agent_key(self) -> str:
        if self.agent is None:
            return ""
        key = hashed_agent_key(self.agent)
        if key is None:
            raise BadRequest("parameter agent: an agent with an identifier is required")
        return key


@dataclass(frozen=True)
class Preconditions:
    """The If-Match and If-None-Match headers of a write (Communication §3.1)."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()  # noqa: S324 - an ETag, not a secret


def _matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    return "*" in tags or etag in tags


def _check(found: Document | None, preconditions: Preconditions) -> None:
    if preconditions.if_match is not None and (
        found is None or not _matches(preconditions.if_match, found.etag)
    ):
        raise PreconditionFailed("If-Match does not match the document's current ETag")
    if (
        preconditions.if_none_match is not None
        and found is not None
        and _matches(preconditions.if_none_match, found.etag)
    ):
        raise PreconditionFailed("If-None-Match: the document already exists")


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    conditions = [
        Document.realm == scope.realm,
        Document.resource == scope.resource,
        Document.activity_key == scope.activity_key,
        Document.agent_key == scope.agent_key,
    ]
    if scope.registration is not None:
        conditions.append(Document.registration == scope.registration)
    return conditions


def _find(session: Session, scope: Scope, document_id: str) -> Document | None:
    return session.scalar(
        select(Document).where(*_in_scope(scope), Document.document_key == digest(document_id))
    )


def get_document(session: Session, scope: Scope, document_id: str) -> Document:
    found = _find(session, scope, document_id)
    if found is None:
        raise DocumentNotFound(f"no document with id {document_id!r} here")
    return found


def document_ids(session: Session, scope: Scope, since: datetime | None = None) -> list[str]:
    """The ids of the scope's documents (updated after ``since``), oldest first; their
    contents are not read."""
    query = select(Document.document_id).where(*_in_scope(scope))
    if since is not None:
        query = query.where(Document.updated > since)
    return list(dict.fromkeys(session.scalars(query.order_by(Document.id))))


def write_document(
    session: Session,
    scope: Scope,
    document_id: str,
    content: bytes,
    content_type: str,
    preconditions: Preconditions,
    *,
    merge: bool,
) -> Document:
    """PUT (``merge`` false): store or replace the document. A profile is written only
    under a precondition (§3.1): without If-Match or If-None-Match, a PUT on an existing
    profile is a 409, and on a new one a 400, as the ADL conformance suite requires.

    POST (``merge``): merge a JSON object into the stored one (its top-level properties
    win), or store it when there is none (Communication §2.2, JSON procedure)."""
    found = _find(session, scope, document_id)
    _check(found, preconditions)
    if merge:
        posted = _json_object(content, content_type, "the posted document")
        if found is not None:
            stored = _json_object(found.content, found.content_type, "the stored document")
            content = json.dumps({**stored, **posted}, ensure_ascii=False).encode("utf-8")
        return _write(session, scope, document_id, found, content, JSON_TYPE)
    if scope.resource != STATE and not preconditions.given:
        if found is not None:
            raise DocumentConflict(
                "this document exists: send If-Match with its ETag to replace it"
            )
        raise BadRequest(
            "a profile is written with If-Match (its ETag) or If-None-Match: * "
            "(create it only if absent)"
        )
    return _write(session, scope, document_id, found, content, content_type)


def delete_document(
    session: Session, scope: Scope, document_id: str, preconditions: Preconditions
) -> None:
    found = _find(session, scope, document_id)
    _check(found, preconditions)
    if found is not None:
        session.delete(found)


def delete_documents(session: Session, scope: Scope) -> int:
    """Delete every document of the scope (the State resource without stateId)."""
    result = session.execute(delete(Document).where(*_in_scope(scope)))
    return int(getattr(result, "rowcount", 0) or 0)


def _json_object(content: bytes, content_type: str, what: str) -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() != JSON_TYPE:
        raise BadRequest(f"{what} must be application/json to be merged by POST")
    try:
        value = json_text.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(f"{what} is not valid JSON") from None
    if json_text.deeper_than(value, json_text.MAX_DEPTH):
        raise BadRequest(f"{what} nests more than {json_text.MAX_DEPTH} levels of JSON")
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object to be merged by POST")
    return value


def _write(
    session: Session,
    scope: Scope,
    document_id: str,
    found: Document | None,
    content: bytes,
    content_type: str,
) -> Document:
    document = found or Document(
        realm=scope.realm,
        resource=scope.resource,
        activity_key=scope.activity_key,
        agent_key=scope.agent_key,
        registration=scope.registration or "",
        document_key=digest(document_id),
        document_id=document_id,
    )
    document.content = content
    document.content_type = content_type or "application/octet-stream"
    document.etag = etag_of(content)
    document.updated = utcnow()
    if found is None:
        session.add(document)
    session.flush()
    return document
