"""Evidence derived after storage: the queue statement storage writes, and its draining.

Storing a statement only queues it (one row, in the storing transaction), so that a
POST costs the statement's own writes whatever the référentiel, the number of learners
or the evidence already held. :func:`derive_queued` takes the oldest queued rows,
derives their evidence (:func:`xapi.evidence.rederive`, which sends
``evidence_changed`` so that achievement follows in the same transaction) and deletes
the rows; the caller commits, so evidence and the end of its queue row are written
together, and a crash before the commit leaves the rows queued. Many statements are
derived at once, so a (learner, competency) pair that a hundred of them touch is
recomputed once.

Derivations are serialised, one at a time on a database: on PostgreSQL by a
transaction-level advisory lock (:func:`serialise`, also taken by every achievement
recomputation, so that two transactions never compute a state from evidence the other
has not committed yet), on SQLite by its single writer, which the first statement of a
derivation (the DELETE that takes the rows) acquires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, delete, func, insert, select, text
from sqlalchemy.orm import Session

from referentiel.orm import utcnow
from xapi.evidence import EvidenceChange, rederive
from xapi.models import DerivationQueue, Statement
from xapi.value_lists import CHUNK, one_of

BATCH = 1000
# pg_advisory_xact_lock key: "xapi-evi" read as a 64-bit integer.
_LOCK_KEY = int.from_bytes(b"xapi-evi", "big") - (1 << 63)
_QUEUE = cast(Table, DerivationQueue.__table__)
_INSERT = insert(_QUEUE)
_ANY_QUEUED = select(_QUEUE.c.id).limit(1)


@dataclass
class DerivationRun:
    """What one call of :func:`derive_queued` did."""

    taken: int = 0  # queue rows
    statements: int = 0  # distinct statements among them
    change: EvidenceChange = field(default_factory=EvidenceChange)


def enqueue(session: Session | Connection, statement_ids: Iterable[str]) -> None:
    """Queue statements for derivation, in the caller's transaction."""
    now = utcnow()
    rows = [{"statement_id": ident, "queued_at": now} for ident in dict.fromkeys(statement_ids)]
    if rows:
        session.execute(_INSERT, rows)


def serialise(session: Session) -> None:
    """Wait until no other transaction derives evidence or recomputes achievement on
    this database, and hold that turn until this transaction ends (PostgreSQL; SQLite
    has one writer at a time anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def derive_queued(session: Session, limit: int = BATCH) -> DerivationRun:
    """Derive the evidence of the oldest ``limit`` queued rows and unqueue them.

    The caller commits. An empty queue costs one small read, without any lock.
    """
    if session.execute(_ANY_QUEUED).first() is None:
        return DerivationRun()
    serialise(session)
    oldest = select(_QUEUE.c.id).order_by(_QUEUE.c.id).limit(limit).scalar_subquery()
    taken = list(
        session.scalars(
            delete(_QUEUE).where(_QUEUE.c.id.in_(oldest)).returning(_QUEUE.c.statement_id)
        )
    )
    if not taken:
        return DerivationRun()
    ids = sorted(set(taken))
    statements: list[Statement] = []
    for start in range(0, len(ids), CHUNK):
        statements += session.scalars(
            select(Statement).where(one_of(session, Statement.id, ids[start : start + CHUNK]))
        )
    change = rederive(session, statements, reason="derived")
    return DerivationRun(len(taken), len(ids), change)


def drain(session: Session, limit: int = BATCH) -> DerivationRun:
    """Derive everything queued, ``limit`` rows per transaction, committing each."""
    total = DerivationRun()
    while True:
        run = derive_queued(session, limit)
        session.commit()
        total.taken += run.taken
        total.statements += run.statements
        total.change |= run.change
        if run.taken < limit:
            return total


def backlog(session: Session) -> tuple[int, datetime | None]:
    """How many rows wait in the queue, and since when the oldest does."""
    count, oldest = session.execute(select(func.count(), func.min(DerivationQueue.queued_at))).one()
    return int(count), oldest
