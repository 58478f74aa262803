"""Storing statements: validation, the LRS-assigned properties, conflicts, voiding,
index rows, and the derivation queue.

Every entry point (the Statements resource, ``lti-tool xapi pull``) goes through
:func:`prepare_statements` (validation and rows, without the database), then
:func:`write_statements` inside the caller's transaction: the caller commits, so a
batch is stored whole or not at all, together with the queue rows that make its
statements (and those it voids) evidence afterwards (:mod:`xapi.derivation`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.orm import Session

from referentiel.orm import utcnow
from xapi import derivation
from xapi.actors import actor_key, normalise_home_page
from xapi.comparison import same_statement
from xapi.credentials import Caller
from xapi.exceptions import BadRequest, ForbiddenStatement, InvalidStatement, StatementConflict
from xapi.identifiers import digest, hashed_agent_key, new_statement_id
from xapi.json_text import NotUnicode, decode_statement, lone_surrogate_in
from xapi.models import Attachment, Credential, Statement, StatementActivity, StatementAgent
from xapi.signatures import check_signature
from xapi.validation import VOIDED_VERB, StatementValidator, parse_timestamp
from xapi.value_lists import insert_as_one_statement, insert_into_tables, insert_rows

DEFAULT_VERSION = "1.0.0"
# Storage runs on an ORM session (pull, tests) or, for the Statements resource, on a
# bare connection: a POST then costs its Core statements and nothing of the ORM.
Executor = Session | Connection
_STATEMENTS = cast(Table, Statement.__table__)
_AGENTS = cast(Table, StatementAgent.__table__)
_ACTIVITIES = cast(Table, StatementActivity.__table__)
_ATTACHMENTS = cast(Table, Attachment.__table__)


@dataclass(frozen=True)
class ReceivedStatement:
    """A parsed statement and the exact JSON text it came as."""

    data: dict[str, Any]
    raw: str
    # False: the text holds NaN or an infinity (refused by check_statement).
    json_numbers: bool = True


@dataclass(frozen=True)
class AttachmentPart:
    """One attachment part of a multipart/mixed request (Communication §1.5.2)."""

    sha2: str
    content_type: str
    content: bytes


@dataclass
class StoreResult:
    ids: list[str]  # every statement of the request, in order
    new_ids: list[str] = field(default_factory=list)  # those stored now (not seen before)


def parse_body(text: str) -> tuple[list[ReceivedStatement], bool]:
    """The statements of a request body and whether it was an array.

    Each element's exact text is kept (``raw``) by decoding the array element by
    element; the JSON is checked to be one value with nothing after it.
    """
    text = text.lstrip("\ufeff")
    pos = _skip(text, 0)
    if pos < len(text) and text[pos] == "[":
        items: list[ReceivedStatement] = []
        pos = _skip(text, pos + 1)
        if pos < len(text) and text[pos] == "]":
            end = pos + 1
        else:
            while True:
                item, after = _read_statement(text, pos)
                items.append(item)
                pos = _skip(text, after)
                if pos < len(text) and text[pos] == ",":
                    pos = _skip(text, pos + 1)
                    continue
                if pos < len(text) and text[pos] == "]":
                    end = pos + 1
                    break
                raise BadRequest("the body is not valid JSON: unfinished array")
        if _skip(text, end) != len(text):
            raise BadRequest("the body is not valid JSON: extra data after the array")
        return items, True
    item, after = _read_statement(text, pos)
    if _skip(text, after) != len(text):
        raise BadRequest("the body is not valid JSON: extra data after the statement")
    return [item], False


def _read_statement(text: str, pos: int) -> tuple[ReceivedStatement, int]:
    """The statement whose JSON starts at ``pos``, and where it ends. Lone surrogates
    and NaN or infinities are left for :func:`check_statement` to name."""
    try:
        value, after, json_numbers = decode_statement(text, pos)
    except ValueError as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise InvalidStatement("a statement must be a JSON object")
    return ReceivedStatement(value, text[pos:after], json_numbers), after


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def format_stored(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision (Data §4.5)."""
    utc = moment.astimezone(UTC)
    # strftime's %Y does not pad years before 1000, which ISO 8601 needs as four digits.
    return f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def now_ms() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _check_platform(
    statement: dict[str, Any], credential: Caller | Credential | None, path: str
) -> None:
    """A credential bound to a platform speaks only for that platform's users."""
    if credential is None or not credential.platform_issuer:
        return
    bound = normalise_home_page(credential.platform_issuer)
    actor = statement["actor"]
    agents = [actor, *actor.get("member", [])]
    for agent in agents:
        account = agent.get("account")
        if account and normalise_home_page(str(account.get("homePage", ""))) != bound:
            raise ForbiddenStatement(
                f"{path}.actor: this credential is bound to platform {bound} and cannot "
                f"record statements for a user of {account.get('homePage')}"
            )


def _index_rows(
    statement_id: str, stored: datetime, data: dict[str, Any], authority: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    agents: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    seen_agents: set[tuple[str, str]] = set()
    seen_activities: set[tuple[str, str]] = set()

    def add_agent(agent: Any, relation: str) -> None:
        if not isinstance(agent, dict):
            return
        key = hashed_agent_key(agent)
        if key and (key, relation) not in seen_agents:
            seen_agents.add((key, relation))
            agents.append(
                {
                    "statement_id": statement_id,
                    "stored": stored,
                    "agent_key": key,
                    "relation": relation,
                }
            )
        for member in agent.get("member", []) or []:
            add_agent(member, relation + "_mbr")

    def add_activity(activity: Any, relation: str) -> None:
        if not isinstance(activity, dict) or "id" not in activity:
            return
        ident = str(activity["id"])
        if (ident, relation) not in seen_activities:
            seen_activities.add((ident, relation))
            activities.append(
                {
                    "statement_id": statement_id,
                    "stored": stored,
                    "activity_key": digest(ident),
                    "activity_id": ident,
                    "relation": relation,
                }
            )

    def walk(part: dict[str, Any], prefix: str) -> None:
        add_agent(part["actor"], prefix + "actor")
        obj = part["object"]
        kind = obj.get("objectType", "Activity")
        if kind == "Activity":
            add_activity(obj, prefix + "object")
        elif kind in ("Agent", "Group"):
            add_agent(obj, prefix + "object")
        elif kind == "SubStatement":
            walk(obj, "sub_")
        context = part.get("context") or {}
        add_agent(context.get("instructor"), prefix + "instructor")
        add_agent(context.get("team"), prefix + "team")
        for key, value in (context.get("contextActivities") or {}).items():
            for activity in value if isinstance(value, list) else [value]:
                add_activity(activity, prefix + key)

    walk(data, "")
    add_agent(authority, "authority")
    return agents, activities


def _check_attachments(
    items: Sequence[ReceivedStatement], parts: Mapping[str, AttachmentPart]
) -> None:
    """Every attachment without fileUrl comes as a part whose hash matches, and no part
    is left over (Communication §1.5.2)."""
    declared: set[str] = set()
    for index, item in enumerate(items):
        for number, attachment in enumerate(item.data.get("attachments", [])):
            sha2 = str(attachment["sha2"]).lower()
            declared.add(sha2)
            if "fileUrl" not in attachment and sha2 not in parts:
                raise BadRequest(
                    f"statements[{index}].attachments[{number}]: no part of the request "
                    f"carries the content with sha2 {sha2} (and there is no fileUrl)"
                )
    extra = set(parts) - declared
    if extra:
        raise BadRequest(
            f"the request carries attachment parts no statement declares: {sorted(extra)}"
        )


@dataclass
class _NewStatement:
    """One statement's rows, built before the database is touched."""

    item: ReceivedStatement
    row: dict[str, Any]
    agents: list[dict[str, Any]]
    activities: list[dict[str, Any]]


@dataclass
class PreparedStatements:
    """Statements validated and turned into rows (:func:`prepare_statements`), ready for
    :func:`write_statements`."""

    ids: list[str]  # every statement of the request, in order
    statements: list[_NewStatement]
    given_ids: list[str]  # ids the client gave: the only ones that may be stored already
    voiding_targets: list[str]
    batch_voiding: set[str]
    parts: Mapping[str, AttachmentPart]


def check_statement(validator: StatementValidator, item: ReceivedStatement, path: str) -> None:
    """:class:`InvalidStatement` naming ``path`` unless the statement keeps the data
    model's MUSTs, its strings are text (no lone surrogate, which JSON can spell) and
    its numbers are JSON numbers (no NaN nor infinity, which Python's JSON spells)."""
    if lone_surrogate_in(item.raw, item.data):
        raise InvalidStatement(f"{path}: {NotUnicode.REASON}")
    if not item.json_numbers:
        raise InvalidStatement(
            f"{path}: a number is NaN, Infinity or too large to be read, which JSON cannot hold"
        )
    validator.statement(item.data, path)


def prepare_statements(
    items: Sequence[ReceivedStatement],
    *,
    authority: dict[str, Any],
    credential: Caller | Credential | None,
    statement_id: str | None = None,
    parts: Mapping[str, AttachmentPart] | None = None,
    version: str = "1.0.3",
    keep_authority: bool = False,
    remote: bool = False,
) -> PreparedStatements:
    """Validate statements and build their rows, without the database: a POST does this
    before it queues for SQLite's single write lock, which it then holds only for its
    writes.

    ``statement_id`` is the PUT parameter (the body is then one statement whose id, if
    any, must match). ``keep_authority`` keeps the authority a pulled statement carries
    (its own LRS set it); otherwise the credential's agent is the authority (Data
    §2.4.9). ``remote``: the statements come from another LRS that already received and
    checked their attachments and signatures, whose contents are not pulled.
    """
    parts = parts or {}
    validator = StatementValidator(version)
    default_version = "2.0.0" if version.startswith("2.") else DEFAULT_VERSION
    ids: list[str] = []
    many = len(items) > 1
    for index, item in enumerate(items):
        path = f"statements[{index}]" if many else "statement"
        check_statement(validator, item, path)
        _check_platform(item.data, credential, path)
        given = item.data.get("id")
        if statement_id is not None:
            if given is not None and str(given).lower() != statement_id.lower():
                raise BadRequest(
                    f"the statement's id {given} differs from the statementId parameter"
                )
            ident = statement_id.lower()
        else:
            ident = str(given).lower() if given is not None else new_statement_id()
        ids.append(ident)
    if len(set(ids)) != len(ids):
        raise BadRequest("the batch holds the same statement id twice")
    if not remote:
        _check_attachments(items, parts)
        contents = {sha2: part.content for sha2, part in parts.items()}
        for index, item in enumerate(items):
            if item.data.get("attachments"):
                where = f"statements[{index}]" if many else "statement"
                check_signature(item.data, contents, where)

    # Ids this LRS just generated cannot be stored yet: only given ids are looked up.
    given_ids = [ident for ident, item in zip(ids, items, strict=True) if "id" in item.data]
    if statement_id is not None:
        given_ids = ids
    stored_at = now_ms()
    statements: list[_NewStatement] = []
    voiding_targets: list[str] = []
    batch_voiding = {
        ident
        for ident, item in zip(ids, items, strict=True)
        if item.data["verb"]["id"] == VOIDED_VERB
    }
    for ident, item in zip(ids, items, strict=True):
        data = item.data
        obj = data["object"]
        kind = obj.get("objectType", "Activity")
        target = str(obj["id"]).lower() if kind == "StatementRef" else None
        if ident in batch_voiding and target is not None:
            voiding_targets.append(target)
        statement_authority = (
            data["authority"] if keep_authority and "authority" in data else authority
        )
        timestamp = (
            parse_timestamp(data["timestamp"], "timestamp") if "timestamp" in data else stored_at
        )
        context = data.get("context") or {}
        row = {
            "id": ident,
            "raw": item.raw,
            "stored": stored_at,
            "timestamp": timestamp,
            "verb_id": data["verb"]["id"],
            "object_id": str(obj["id"]) if kind in ("Activity", "StatementRef") else None,
            "object_type": kind,
            "object_statement_id": target,
            "actor_key": actor_key(data["actor"]),
            "voided": False,
            "registration": str(context["registration"]).lower()
            if "registration" in context
            else None,
            "version": str(data.get("version", default_version)),
            "authority": json.dumps(statement_authority, ensure_ascii=False),
            "credential_id": credential.id if credential is not None else None,
            "platform_issuer": credential.platform_issuer if credential is not None else None,
        }
        agents, activities = _index_rows(ident, stored_at, data, statement_authority)
        statements.append(_NewStatement(item, row, agents, activities))
    return PreparedStatements(ids, statements, given_ids, voiding_targets, batch_voiding, parts)


def write_as_one_statement(
    connection: Connection, prepared: PreparedStatements
) -> StoreResult | None:
    """On PostgreSQL, store statements that need nothing looked up (no given id, nothing
    voided, no attachment) and few rows as one SQL statement, atomic on its own, so that
    it may run outside a transaction: a single POST then costs two round trips (the
    credential and this) instead of four (BEGIN and COMMIT). None when that cannot be,
    and then nothing was written."""
    if prepared.given_ids or prepared.voiding_targets or prepared.parts:
        return None
    if not insert_as_one_statement(connection, _tables(prepared.statements, [])):
        return None
    return StoreResult(ids=prepared.ids, new_ids=[s.row["id"] for s in prepared.statements])


def write_statements(session: Executor, prepared: PreparedStatements) -> StoreResult:
    """Store prepared statements, with their index and queue rows, in the caller's
    transaction (the caller commits). A statement already stored with the same id and
    equivalent content is accepted without a second copy; other content raises
    :class:`StatementConflict`."""
    existing: dict[str, str] = {}
    if prepared.given_ids:
        found = select(Statement.id, Statement.raw).where(Statement.id.in_(prepared.given_ids))
        existing = {ident: raw for ident, raw in session.execute(found)}
    new: list[_NewStatement] = []
    for statement in prepared.statements:
        previous = existing.get(statement.row["id"])
        if previous is None:
            new.append(statement)
        elif not same_statement(json.loads(previous), statement.item.data):
            raise StatementConflict(
                f"statement {statement.row['id']} is already stored with different content"
            )
    new_rows = [statement.row for statement in new]
    voided_ids = _void(session, prepared.voiding_targets, prepared.batch_voiding)
    _arrive_voided(session, new_rows, prepared.given_ids, set(prepared.voiding_targets))
    _store_parts(session, prepared.parts)
    if voided_ids:  # statements stored earlier: independent of the rows below
        session.execute(update(Statement).where(Statement.id.in_(voided_ids)).values(voided=True))
    insert_into_tables(session, _tables(new, voided_ids))
    return StoreResult(ids=prepared.ids, new_ids=[row["id"] for row in new_rows])


def _tables(
    new: list[_NewStatement], voided_ids: list[str]
) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The statements, their index rows and their queue rows (with those of the
    statements they void), in the order foreign keys need."""
    return [
        (_STATEMENTS, [statement.row for statement in new]),
        (_AGENTS, [row for statement in new for row in statement.agents]),
        (_ACTIVITIES, [row for statement in new for row in statement.activities]),
        (
            derivation.QUEUE,
            derivation.queue_rows([statement.row["id"] for statement in new] + voided_ids),
        ),
    ]


def _void(session: Executor, targets: list[str], batch_voiding: set[str]) -> list[str]:
    """Voiding rules (Data §2.3.2): a voiding statement cannot itself be voided; a
    target not (yet) stored is no reason to refuse the voiding statement."""
    if not targets:
        return []
    for target in targets:
        if target in batch_voiding:
            raise BadRequest(f"statement {target} is a voiding statement and cannot be voided")
    rows = session.execute(
        select(Statement.id, Statement.verb_id, Statement.voided).where(Statement.id.in_(targets))
    ).all()
    voided: list[str] = []
    for ident, verb_id, already in rows:
        if verb_id == VOIDED_VERB:
            raise BadRequest(f"statement {ident} is a voiding statement and cannot be voided")
        if not already:
            voided.append(ident)
    return voided


def _arrive_voided(
    session: Executor, new_rows: list[dict[str, Any]], given_ids: list[str], targets: set[str]
) -> None:
    """A statement whose voiding statement came first is stored voided (Data §2.3.2:
    the voiding statement's target may arrive later). Ids this LRS generated cannot
    have been targeted, so only given ids are looked up; a voiding statement is never
    voided."""
    if not given_ids:
        return
    earlier = set(
        session.scalars(
            select(Statement.object_statement_id).where(
                Statement.verb_id == VOIDED_VERB,
                Statement.object_statement_id.in_(given_ids),
            )
        ).all()
    )
    for row in new_rows:
        if row["verb_id"] != VOIDED_VERB and (row["id"] in earlier or row["id"] in targets):
            row["voided"] = True


def _store_parts(session: Executor, parts: Mapping[str, AttachmentPart]) -> None:
    if not parts:
        return
    known = set(
        session.scalars(select(Attachment.sha2).where(Attachment.sha2.in_(list(parts)))).all()
    )
    rows = [
        {
            "sha2": sha2,
            "content_type": part.content_type,
            "length": len(part.content),
            "content": part.content,
            "created_at": utcnow(),
        }
        for sha2, part in parts.items()
        if sha2 not in known
    ]
    insert_rows(session, _ATTACHMENTS, rows)


def _context_activities_as_arrays(part: dict[str, Any]) -> None:
    """Data §2.4.6.2: the LRS returns every context activity list as an array."""
    context = part.get("context")
    if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
        activities = context["contextActivities"]
        for key, value in activities.items():
            if not isinstance(value, list):
                activities[key] = [value]
    obj = part.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        _context_activities_as_arrays(obj)


def statement_document(row: Statement) -> dict[str, Any]:
    """The statement as the LRS returns it: the JSON received plus the properties the
    LRS assigned (id, stored, timestamp when absent, authority, version), with context
    activities always as arrays. ``raw`` itself stays as received."""
    data: dict[str, Any] = json.loads(row.raw)
    _context_activities_as_arrays(data)
    data["id"] = data.get("id", row.id)
    data.setdefault("timestamp", format_stored(row.stored))
    data["stored"] = format_stored(row.stored)
    data["authority"] = json.loads(row.authority)
    data.setdefault("version", row.version)
    return data


def attachment_hashes(documents: Iterable[dict[str, Any]]) -> list[str]:
    """The sha2 of every attachment the documents carry without fileUrl, in order."""
    hashes: list[str] = []
    for document in documents:
        for attachment in document.get("attachments", []):
            sha2 = str(attachment.get("sha2", "")).lower()
            if sha2 and sha2 not in hashes:
                hashes.append(sha2)
    return hashes
