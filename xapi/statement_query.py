"""Reading statements back: one by id, or a filtered list with the ``more`` link
(xAPI 1.0.3 Communication §2.1.3).

The ``more`` value is stateless: a token carrying the query and the position of the
last statement returned, signed with the application's secret key (HMAC-SHA256), so
any worker can continue the listing. Tokens stay valid :data:`CURSOR_LIFETIME`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from xapi.exceptions import BadRequest, StatementNotFound
from xapi.identifiers import digest, hashed_agent_key
from xapi.json_text import loads
from xapi.models import Statement, StatementActivity, StatementAgent, of_statement
from xapi.validation import StatementValidator, parse_timestamp, uuid

CURSOR_LIFETIME = 72 * 3600  # seconds; the spec asks for at least 24 hours
MAX_LIMIT = 500
FORMATS = {"ids", "exact", "canonical"}
LIST_PARAMETERS = {
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
}
RELATED_AGENT_RELATIONS = [
    "actor",
    "object",
    "authority",
    "instructor",
    "team",
    "sub_actor",
    "sub_object",
    "sub_instructor",
    "sub_team",
]
SINGLE_PARAMETERS = {"statementId", "voidedStatementId", "format", "attachments"}


@dataclass(frozen=True)
class StatementQuery:
    params: dict[str, str]
    agent_key: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = MAX_LIMIT
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False
    after: tuple[datetime, str] | None = None


def _boolean(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise BadRequest(f"parameter {name} must be true or false")
    return value == "true"


def parse_format(params: Mapping[str, str]) -> tuple[str, bool]:
    fmt = params.get("format", "exact")
    if fmt not in FORMATS:
        raise BadRequest(f"parameter format must be one of ids, exact, canonical, got {fmt!r}")
    return fmt, _boolean(params, "attachments")


def parse_query(
    params: Mapping[str, str], after: tuple[datetime, str] | None = None
) -> StatementQuery:
    """The list query of these parameters; :class:`BadRequest` on anything unknown or
    malformed."""
    unknown = set(params) - LIST_PARAMETERS
    if unknown:
        raise BadRequest(f"unknown parameter(s) for the Statements resource: {sorted(unknown)}")
    fmt, attachments = parse_format(params)
    agent_key = None
    if "agent" in params:
        try:
            agent = loads(params["agent"])
        except ValueError:
            raise BadRequest("parameter agent must be an agent or group as JSON") from None
        validator = StatementValidator()
        try:
            validator.actor(agent, "agent")
        except Exception as error:
            raise BadRequest(f"parameter {error}") from None
        agent_key = hashed_agent_key(agent)
        if agent_key is None:
            raise BadRequest("parameter agent must carry an identifier (anonymous group)")
    verb = params.get("verb")
    activity = params.get("activity")
    registration = params.get("registration")
    try:
        if registration is not None:
            registration = uuid(registration, "registration").lower()
        since = parse_timestamp(params["since"], "since") if "since" in params else None
        until = parse_timestamp(params["until"], "until") if "until" in params else None
    except Exception as error:
        raise BadRequest(f"parameter {error}") from None
    try:
        limit = int(params.get("limit", "0"))
    except ValueError:
        raise BadRequest("parameter limit must be a non-negative integer") from None
    if limit < 0:
        raise BadRequest("parameter limit must be a non-negative integer")
    return StatementQuery(
        params=dict(params),
        agent_key=agent_key,
        verb=verb,
        activity=activity,
        registration=registration,
        related_activities=_boolean(params, "related_activities"),
        related_agents=_boolean(params, "related_agents"),
        since=since,
        until=until,
        limit=MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT),
        ascending=_boolean(params, "ascending"),
        format=fmt,
        attachments=attachments,
        after=after,
    )


def _core_conditions(query: StatementQuery, table: Any) -> list[Any]:
    """Filters that also select the statements which refer to a match (StatementRef)."""
    conditions: list[Any] = []
    if query.agent_key is not None:
        relations = RELATED_AGENT_RELATIONS if query.related_agents else ["actor", "object"]
        conditions.append(
            exists().where(
                StatementAgent.agent_key == query.agent_key,
                of_statement(StatementAgent, table),
                StatementAgent.relation.in_(relations),
            )
        )
    if query.verb is not None:
        conditions.append(table.verb_id == query.verb)
    if query.activity is not None:
        activity_match = [
            StatementActivity.activity_key == digest(query.activity),
            of_statement(StatementActivity, table),
        ]
        if not query.related_activities:
            activity_match.append(StatementActivity.relation == "object")
        conditions.append(exists().where(*activity_match))
    if query.registration is not None:
        conditions.append(table.registration == query.registration)
    return conditions


def _select(query: StatementQuery) -> Select[tuple[Statement]]:
    statement = select(Statement).where(Statement.voided.is_(False))
    core = _core_conditions(query, Statement)
    if core:
        target = aliased(Statement)
        referred = select(target.id).where(*_core_conditions(query, target))
        statement = statement.where(or_(and_(*core), Statement.object_statement_id.in_(referred)))
    if query.since is not None:
        statement = statement.where(Statement.stored > query.since)
    if query.until is not None:
        statement = statement.where(Statement.stored <= query.until)
    if query.after is not None:
        stored, ident = query.after
        if query.ascending:
            statement = statement.where(
                or_(
                    Statement.stored > stored,
                    and_(Statement.stored == stored, Statement.id > ident),
                )
            )
        else:
            statement = statement.where(
                or_(
                    Statement.stored < stored,
                    and_(Statement.stored == stored, Statement.id < ident),
                )
            )
    if query.ascending:
        return statement.order_by(Statement.stored.asc(), Statement.id.asc())
    return statement.order_by(Statement.stored.desc(), Statement.id.desc())


def find_statements(
    session: Session, query: StatementQuery, platform_issuer: str | None = None
) -> tuple[list[Statement], bool]:
    """One page of matching statements and whether more follow.

    ``platform_issuer``: the reader's credential is bound to that platform and only
    sees what credentials of the same platform stored (tenant isolation).
    """
    statement = _select(query)
    if platform_issuer is not None:
        statement = statement.where(Statement.platform_issuer == platform_issuer)
    rows = list(session.scalars(statement.limit(query.limit + 1)).all())
    return rows[: query.limit], len(rows) > query.limit


def get_statement(
    session: Session, statement_id: str, *, voided: bool, platform_issuer: str | None = None
) -> Statement:
    """The statement by id (``voided``: the voidedStatementId form, which only answers
    voided statements; the statementId form never answers them). A reader bound to a
    platform gets 404 for statements another platform's credentials stored."""
    row = session.get(Statement, statement_id.lower())
    if (
        row is None
        or row.voided != voided
        or (platform_issuer is not None and row.platform_issuer != platform_issuer)
    ):
        kind = "voided statement" if voided else "statement"
        raise StatementNotFound(f"no {kind} with id {statement_id}")
    return row


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def more_token(query: StatementQuery, last: Statement, secret: str) -> str:
    payload = {
        "q": query.params,
        "s": last.stored.isoformat(),
        "i": last.id,
        "t": int(time.time()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signature = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def query_from_token(token: str, secret: str) -> StatementQuery:
    """The query a ``more`` token continues; :class:`BadRequest` when it was tampered
    with or has expired."""
    try:
        body, signature = token.split(".")
        expected = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        payload = json.loads(_unb64(body))
        position = (datetime.fromisoformat(payload["s"]), str(payload["i"]))
        issued = int(payload["t"])
        params = {str(k): str(v) for k, v in payload["q"].items()}
    except Exception:
        raise BadRequest("the more token is not valid") from None
    if time.time() - issued > CURSOR_LIFETIME:
        raise BadRequest("the more token has expired: run the query again")
    return parse_query(params, after=position)
