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

A statement whose derivation fails (a bug, data the code did not foresee) must not
hold back the others: when a round fails, :func:`drain` derives its rows one at a
time, and sets aside the one that fails (``failed_at``, ``last_error``) for
``lti-tool evidence queue --retry``. Database outages are not such failures: they
are raised, and every row stays queued for the next round.

Derivations are serialised, one at a time on a database: on PostgreSQL by the advisory
lock of :mod:`xapi.evidence_lock`, on SQLite by its single writer, which the first
statement of a derivation (the DELETE that takes the rows) acquires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from referentiel.orm import utcnow
from xapi.evidence import EvidenceChange, rederive, statement_facts
from xapi.evidence_lock import serialise
from xapi.models import DerivationQueue

log = logging.getLogger(__name__)

BATCH = 1000
QUEUE = cast(Table, DerivationQueue.__table__)
_PENDING = QUEUE.c.failed_at.is_(None)
# The database is unreachable or busy: nothing to blame on a statement.
TRANSIENT = (OperationalError, InterfaceError)


@dataclass
class DerivationRun:
    """What a derivation did."""

    taken: int = 0  # queue rows
    statements: int = 0  # distinct statements among them
    change: EvidenceChange = field(default_factory=EvidenceChange)
    failed: list[str] = field(default_factory=list)  # statements set aside

    def __ior__(self, other: DerivationRun) -> DerivationRun:
        self.taken += other.taken
        self.statements += other.statements
        self.change |= other.change
        self.failed += other.failed
        return self


def queue_rows(statement_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The queue rows of these statements, for the caller to insert in its transaction
    (statement storage inserts them with the statements' own rows)."""
    now = utcnow()
    return [{"statement_id": ident, "queued_at": now} for ident in dict.fromkeys(statement_ids)]


def _oldest(session: Session, limit: int) -> list[int]:
    """The ids of the oldest queued rows not set aside (one small read, no lock)."""
    return list(
        session.scalars(select(QUEUE.c.id).where(_PENDING).order_by(QUEUE.c.id).limit(limit))
    )


def queued_span(session: Session) -> tuple[int, int] | None:
    """The ids of the oldest and newest rows waiting (None: nothing waits), two index
    lookups. The newest changes whenever a statement is queued, which is how the
    drainer tells that statements keep coming; ``newest - oldest + 1`` bounds how many
    wait (ids only grow; rows set aside or taken between them make it an
    over-estimate)."""
    pending = select(QUEUE.c.id).where(_PENDING).limit(1)
    oldest, newest = session.execute(
        select(
            pending.order_by(QUEUE.c.id).scalar_subquery(),
            pending.order_by(QUEUE.c.id.desc()).scalar_subquery(),
        )
    ).one()
    return None if oldest is None or newest is None else (int(oldest), int(newest))


def derive_rows(session: Session, queue_ids: Sequence[int]) -> DerivationRun:
    """Derive the evidence of these queue rows and unqueue them; rows another
    derivation took meanwhile are skipped. The caller commits."""
    serialise(session)
    taken = list(
        session.scalars(
            delete(QUEUE).where(QUEUE.c.id.in_(queue_ids)).returning(QUEUE.c.statement_id)
        )
    )
    if not taken:
        return DerivationRun()
    ids = sorted(set(taken))
    change = rederive(session, statement_facts(session, ids), reason="derived")
    return DerivationRun(len(taken), len(ids), change)


def derive_queued(session: Session, limit: int = BATCH) -> DerivationRun:
    """Derive the evidence of the oldest ``limit`` queued rows and unqueue them.

    The caller commits. An empty queue costs one small read, without any lock.
    """
    queue_ids = _oldest(session, limit)
    return derive_rows(session, queue_ids) if queue_ids else DerivationRun()


Turn = Callable[[], AbstractContextManager[object]]


def drain(session: Session, limit: int = BATCH, turn: Turn = nullcontext) -> DerivationRun:
    """Derive everything queued, ``limit`` rows per transaction, committing each; a
    round that fails is derived again row by row, and the failing rows set aside.
    ``turn`` is held around each transaction (the caller's writers' queue, if any)."""
    total = DerivationRun()
    while True:
        queue_ids = _oldest(session, limit)
        if not queue_ids:
            return total
        try:
            total |= _committed(session, queue_ids, turn)
        except Exception:
            for queue_id in queue_ids:
                try:
                    total |= _committed(session, [queue_id], turn)
                except Exception as error:
                    total.failed += _set_aside(session, queue_id, error)
        if len(queue_ids) < limit:
            return total


def _committed(session: Session, queue_ids: Sequence[int], turn: Turn) -> DerivationRun:
    """:func:`derive_rows` and commit, or roll back and raise."""
    with turn():
        try:
            run = derive_rows(session, queue_ids)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return run


def _set_aside(session: Session, queue_id: int, error: Exception) -> list[str]:
    """Keep the row with why it failed; returns its statement id (none if another
    derivation took the row meanwhile). A failure of the database itself is nothing to
    blame on the row: it is raised, and every row stays queued."""
    if isinstance(error, TRANSIENT):
        raise error
    reason = f"{type(error).__name__}: {error}"[:1000]
    log.error("deriving evidence failed; queue row %s set aside: %s", queue_id, reason)
    statement_id = session.scalar(
        update(QUEUE)
        .where(QUEUE.c.id == queue_id)
        .values(failed_at=utcnow(), last_error=reason)
        .returning(QUEUE.c.statement_id)
    )
    session.commit()
    return [statement_id] if statement_id is not None else []


def retry_failed(session: Session) -> int:
    """Queue the rows set aside again (after a fix); returns how many. The caller
    commits."""
    result = session.execute(update(QUEUE).where(~_PENDING).values(failed_at=None, last_error=None))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest: datetime | None  # when the oldest waiting row was queued
    failed: int  # rows set aside


def backlog(session: Session) -> Backlog:
    """How many rows wait in the queue and since when, and how many were set aside."""
    waiting, oldest = session.execute(
        select(func.count(), func.min(QUEUE.c.queued_at)).where(_PENDING)
    ).one()
    failed = session.scalar(select(func.count()).select_from(QUEUE).where(~_PENDING))
    return Backlog(int(waiting), oldest, int(failed or 0))


def failures(session: Session) -> list[tuple[str, datetime, str]]:
    """The rows set aside: statement id, when, and why."""
    rows = session.execute(
        select(QUEUE.c.statement_id, QUEUE.c.failed_at, QUEUE.c.last_error)
        .where(~_PENDING)
        .order_by(QUEUE.c.id)
    )
    return [(ident, when, why or "") for ident, when, why in rows]
