"""Stored statements, their index tables, credentials, attachments, pull cursors, and the
evidence derived from statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referentiel.orm import Base, utcnow


def _where_not_null(name: str, column: str) -> Index:
    """An index of the rows where ``column`` is set (SQLite and PostgreSQL alike)."""
    condition = text(f"{column} IS NOT NULL")
    return Index(name, column, sqlite_where=condition, postgresql_where=condition)


class Credential(Base):
    """HTTP Basic key and secret of one activity provider (xAPI 1.0.3 Communication §4).

    Only a keyed hash of the secret is kept (see :mod:`xapi.credentials`). A credential
    bound to a platform (``platform_issuer``) may only speak for that platform's users.
    """

    __tablename__ = "xapi_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(255))
    platform_issuer: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Statement(Base):
    """One statement as received (``raw`` is the exact JSON text of that statement) plus
    the properties the LRS assigned and indexed columns for queries.

    ``actor_key`` is the actor's identifier in readable form (:func:`xapi.actors.actor_key`).
    """

    __tablename__ = "xapi_statement"
    # Every index is written at each POST, so there are only the ones queries use: a
    # single statement touched 26 database pages with the earlier 8 (migration 0100).
    # Queries all filter on ``voided`` and order by ``stored``; registration and the
    # StatementRef target are NULL for most statements, so their indexes leave those out.
    __table_args__ = (
        Index("ix_xapi_statement_voided_stored", "voided", "stored"),
        _where_not_null("ix_xapi_statement_registration", "registration"),
        _where_not_null("ix_xapi_statement_object_statement_id", "object_statement_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    raw: Mapped[str] = mapped_column(Text)
    stored: Mapped[datetime]
    timestamp: Mapped[datetime]
    verb_id: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    actor_key: Mapped[str] = mapped_column(String(512), index=True)
    voided: Mapped[bool] = mapped_column(default=False)
    # The issuer of the platform the storing credential is bound to (None: unbound).
    # Evidence is derived only for that platform's learners.
    platform_issuer: Mapped[str | None] = mapped_column(String(255))
    object_type: Mapped[str] = mapped_column(String(20), default="Activity")
    # The statement a StatementRef object (a voiding statement's included) points at.
    object_statement_id: Mapped[str | None] = mapped_column(String(36))
    registration: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[str] = mapped_column(String(20), default="1.0.0")
    # JSON of the authority agent or group (set by storage; "{}" only for rows made
    # outside it, such as test factories).
    authority: Mapped[str] = mapped_column(Text, default="{}")
    # Not indexed: credentials are revoked, never deleted.
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("xapi_credential.id", ondelete="SET NULL")
    )
    credential: Mapped[Credential | None] = relationship()


class DerivationQueue(Base):
    """A statement whose evidence is to be derived (again): written in the transaction
    that stores or voids it, deleted in the one that derives it (:mod:`xapi.derivation`).

    A statement may be queued more than once (stored, then voided before the first
    derivation ran); each row is taken once, and deriving is idempotent.
    """

    __tablename__ = "xapi_derivation_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when deriving this statement failed on its own: the row waits for a retry.
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class MappingRule(Base):
    """An activity id (exact, or a prefix) whose statements count for a competency."""

    __tablename__ = "xapi_mapping_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_iri: Mapped[str] = mapped_column(Text)
    is_prefix: Mapped[bool] = mapped_column(default=False)
    competency_id: Mapped[int] = mapped_column(
        ForeignKey("competency.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LearnerKey(Base):
    """An actor key (``xapi.actors``) known to name an LTI user.

    Written by ``xapi.evidence.resolve_pending_for_user``; it is what makes an
    ``mbox_sha1sum`` actor resolvable without hashing every user's email.
    """

    __tablename__ = "xapi_learner_key"
    __table_args__ = (UniqueConstraint("actor_key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_key: Mapped[str] = mapped_column(String(512))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)


class StatementAgent(Base):
    """An agent or identified group a statement names, and where (``relation``):
    actor, object, authority, instructor, team, or the same inside a sub-statement
    (``sub_actor`` ...). ``agent_key`` is the SHA-256 of the readable key."""

    __tablename__ = "xapi_statement_agent"
    __table_args__ = (Index("ix_xapi_statement_agent_key", "agent_key", "stored", "statement_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Reached through the (key, stored, statement) index only: statements are never
    # deleted. See StatementActivity for why ``stored`` is in it.
    statement_id: Mapped[str] = mapped_column(ForeignKey("xapi_statement.id", ondelete="CASCADE"))
    agent_key: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(20))
    stored: Mapped[datetime]  # the statement's (never changes)


class StatementActivity(Base):
    """An activity a statement names: its object, a context activity (``parent``,
    ``grouping``, ``category``, ``other``), or the same inside a sub-statement."""

    __tablename__ = "xapi_statement_activity"
    # Ordered by the statement's ``stored`` within a key, not by its id: ids are random
    # UUIDs, so with (key, id) each new row went to a random page of the index, and a
    # batch of 100 statements rewrote hundreds of pages once the store held a few
    # thousand (its POST 2.3 times slower at 20,000 stored, migration 0120). A
    # statement found by its id is looked up with its ``stored`` too.
    __table_args__ = (
        Index("ix_xapi_statement_activity_key", "activity_key", "stored", "statement_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Reached through the (key, stored, statement) index only: statements are never
    # deleted.
    statement_id: Mapped[str] = mapped_column(ForeignKey("xapi_statement.id", ondelete="CASCADE"))
    activity_key: Mapped[str] = mapped_column(String(64))  # SHA-256 of activity_id
    activity_id: Mapped[str] = mapped_column(Text)
    relation: Mapped[str] = mapped_column(String(20))
    stored: Mapped[datetime]  # the statement's (never changes)


def of_statement(
    index: type[StatementAgent] | type[StatementActivity], statement: Any = None
) -> ColumnElement[bool]:
    """That an agent or activity index row is one of ``statement``'s (the Statement
    model, or an alias of it): by ``stored`` and id, the order of the rows' index, so
    that a statement's rows are found by a seek (see StatementActivity)."""
    statement = Statement if statement is None else statement
    return and_(index.stored == statement.stored, index.statement_id == statement.id)


class Attachment(Base):
    """Attachment content received in a multipart/mixed request, keyed by its SHA-2."""

    __tablename__ = "xapi_attachment"

    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    length: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A document of the State, Activity Profile or Agent Profile resource (xAPI 1.0.3
    Communication §2.3, §2.6, §2.7), kept per tenant: ``realm`` is the issuer of the
    platform the writing credential is bound to ("" for unbound credentials), and a
    credential reads and writes its own realm only.

    ``resource`` is state, activity_profile or agent_profile; the parts that do not
    apply to it are "". ``activity_key``, ``agent_key`` and ``document_key`` are
    SHA-256 keys of the activity IRI, the agent's identifier and the stateId or
    profileId, so that the unique key fits an index whatever their length.
    """

    __tablename__ = "xapi_document"
    __table_args__ = (
        UniqueConstraint(
            "realm",
            "resource",
            "activity_key",
            "agent_key",
            "registration",
            "document_key",
            name="uq_xapi_document_address",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    realm: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(20))
    activity_key: Mapped[str] = mapped_column(String(64))
    agent_key: Mapped[str] = mapped_column(String(64))
    registration: Mapped[str] = mapped_column(String(36))
    document_key: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str] = mapped_column(String(64))  # SHA-1 of the content, unquoted
    updated: Mapped[datetime]


class PullSource(Base):
    """Where ``lti-tool xapi pull`` stopped reading another LRS."""

    __tablename__ = "xapi_pull_source"
    __table_args__ = (UniqueConstraint("endpoint", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(1000))
    key: Mapped[str] = mapped_column(String(255))
    # The ``stored`` value of the newest statement taken, as the remote wrote it.
    since: Mapped[str | None] = mapped_column(String(64))
    pulled: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Evidence(Base):
    """A statement counted for one learner and one competency (withdrawn when voided)."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("statement_id", "learner_id", "competency_id"),
        Index("ix_evidence_learner_competency", "learner_id", "competency_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(ForeignKey("xapi_statement.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    competency_id: Mapped[int] = mapped_column(ForeignKey("competency.id", ondelete="CASCADE"))
    verb_id: Mapped[str] = mapped_column(Text)
    source_activity: Mapped[str] = mapped_column(Text)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    success: Mapped[bool | None]
    completion: Mapped[bool | None]
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
