"""The score outbox: claiming rows safely, recording outcomes, dead letters and retries.

Ordering guarantee: for one learner and one line item, an older score is never sent
after a newer one. Rows are claimed only while holding the pair's ``ScoreSyncState``
row lock (enqueueing takes the same lock), and only the newest row of a pair is ever
claimed: older pending rows are marked ``superseded`` at claim time (coalescing).
A pair with a row in flight (``sending`` with a live lease) waits.

Several workers: on PostgreSQL candidates and pair locks are taken with
``FOR UPDATE SKIP LOCKED``, so workers never claim the same row; on SQLite a claim
first takes the database's write lock (an UPDATE that matches nothing), so claims are
serialised. A claim is a lease: a worker that dies leaves ``sending`` rows that any
worker may claim again once ``lease_until`` has passed.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from lti_tool.achievement.models import ScoreOutbox, ScoreSyncState
from lti_tool.models.people import CourseContext
from lti_tool.models.resource_link import ResourceLink
from referentiel import audit
from referentiel.orm import utcnow

_jitter = secrets.SystemRandom()


@dataclass(frozen=True)
class DeliverySettings:
    max_attempts: int = 8
    base_delay: float = 2.0  # seconds before the first retry, doubled each time
    max_delay: float = 600.0
    timeout: float = 10.0  # per HTTP request
    lease_seconds: float = 120.0
    batch: int = 5


def backoff(attempts: int, settings: DeliverySettings, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (half fixed, half random), at least Retry-After.

    Retry-After is honoured up to ``settings.max_delay`` (LTI_TOOL_AGS_RETRY_MAX_SECONDS):
    a platform asking for years must not park a score that long.
    """
    delay = min(settings.max_delay, settings.base_delay * 2 ** max(0, attempts - 1))
    jittered = delay / 2 + _jitter.uniform(0, delay / 2)
    if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
        return jittered
    return max(jittered, min(retry_after, settings.max_delay))


def lock_write(session: Session) -> None:
    """On SQLite, take the database's write lock now (PostgreSQL locks rows instead)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE score_outbox SET id = id WHERE 0 = 1"))


def claim(
    session: Session, worker: str, settings: DeliverySettings, now: datetime | None = None
) -> list[int]:
    """Claim up to ``settings.batch`` due rows for ``worker`` and commit the claim."""
    now = now or utcnow()
    skip_locked = session.get_bind().dialect.name == "postgresql"
    lock_write(session)
    due = (
        select(ScoreOutbox)
        .where(
            ((ScoreOutbox.status == "pending") & (ScoreOutbox.next_attempt_at <= now))
            | ((ScoreOutbox.status == "sending") & (ScoreOutbox.lease_until < now))
        )
        .order_by(ScoreOutbox.id)
        .limit(settings.batch * 4)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    claimed: list[int] = []
    for row in session.scalars(due):
        if len(claimed) >= settings.batch:
            break
        pair_lock = select(ScoreSyncState.id).where(
            ScoreSyncState.resource_link_id == row.resource_link_id,
            ScoreSyncState.learner_id == row.learner_id,
        )
        if skip_locked and session.scalar(pair_lock.with_for_update(skip_locked=True)) is None:
            continue  # another transaction holds this pair right now
        newer = session.scalar(
            select(func.max(ScoreOutbox.id)).where(
                ScoreOutbox.resource_link_id == row.resource_link_id,
                ScoreOutbox.learner_id == row.learner_id,
                ScoreOutbox.id > row.id,
            )
        )
        if newer is not None:
            row.status = "superseded"
            row.last_error = f"a newer score (#{newer}) replaced it before it was sent"
            row.lease_until = None
            continue
        in_flight = session.scalar(
            select(ScoreOutbox.id).where(
                ScoreOutbox.resource_link_id == row.resource_link_id,
                ScoreOutbox.learner_id == row.learner_id,
                ScoreOutbox.id != row.id,
                ScoreOutbox.status == "sending",
                ScoreOutbox.lease_until >= now,
            )
        )
        if in_flight is not None:
            continue
        row.status = "sending"
        row.claimed_by = worker
        row.lease_until = now + timedelta(seconds=settings.lease_seconds)
        row.attempts += 1
        claimed.append(row.id)
    session.commit()
    return claimed


def _owned(session: Session, row_id: int, worker: str) -> ScoreOutbox | None:
    """The row if this worker still holds its claim (a lease may have been taken over)."""
    lock_write(session)
    query = select(ScoreOutbox).where(
        ScoreOutbox.id == row_id,
        ScoreOutbox.status == "sending",
        ScoreOutbox.claimed_by == worker,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def mark_delivered(session: Session, row_id: int, worker: str, payload: dict[str, object]) -> None:
    row = _owned(session, row_id, worker)
    if row is None:
        session.rollback()
        return
    row.status = "delivered"
    row.delivered_at = utcnow()
    row.payload = payload
    row.lease_until = None
    row.last_error = None
    audit.record(
        session,
        "sync.delivered",
        learner_id=row.learner_id,
        summary=f"score #{row.id} delivered ({payload.get('scoreGiven')}/"
        f"{payload.get('scoreMaximum')}, {payload.get('timestamp')})",
        outbox_id=row.id,
        resource_link_id=row.resource_link_id,
        attempts=row.attempts,
    )
    session.commit()


def mark_superseded(session: Session, row_id: int, worker: str, reason: str) -> None:
    row = _owned(session, row_id, worker)
    if row is None:
        session.rollback()
        return
    row.status = "superseded"
    row.last_error = reason
    row.lease_until = None
    session.commit()


def mark_failed(
    session: Session,
    row_id: int,
    worker: str,
    error: str,
    *,
    retryable: bool,
    settings: DeliverySettings,
    retry_after: float | None = None,
    payload: dict[str, object] | None = None,
) -> str:
    """Schedule a retry, or dead-letter the row; returns the new status."""
    row = _owned(session, row_id, worker)
    if row is None:
        session.rollback()
        return "lost-claim"
    row.last_error = error[:2000]
    row.lease_until = None
    if payload is not None:
        row.payload = payload
    if retryable and row.attempts < settings.max_attempts:
        row.status = "pending"
        row.next_attempt_at = utcnow() + timedelta(
            seconds=backoff(row.attempts, settings, retry_after)
        )
    else:
        row.status = "dead"
        audit.record(
            session,
            "sync.dead",
            learner_id=row.learner_id,
            summary=f"score #{row.id} not delivered after {row.attempts} attempt(s): {error}"[:500],
            outbox_id=row.id,
            resource_link_id=row.resource_link_id,
            error=error[:2000],
        )
    status = row.status
    session.commit()
    return status


def release(session: Session, row_ids: Iterable[int], worker: str) -> None:
    """Give back claimed rows not started (graceful stop): the attempt is not counted."""
    ids = list(row_ids)
    if not ids:
        return
    lock_write(session)
    session.execute(
        update(ScoreOutbox)
        .where(
            ScoreOutbox.id.in_(ids),
            ScoreOutbox.status == "sending",
            ScoreOutbox.claimed_by == worker,
        )
        .values(status="pending", lease_until=None, attempts=ScoreOutbox.attempts - 1)
    )
    session.commit()


# --- For admins (CLI and admin page) -------------------------------------------------


def dead_letters(session: Session, issuer: str | None = None) -> list[ScoreOutbox]:
    """Scores that were not delivered and wait for an admin, oldest first."""
    query = select(ScoreOutbox).where(ScoreOutbox.status == "dead").order_by(ScoreOutbox.id)
    if issuer is not None:
        query = (
            query.join(ResourceLink, ResourceLink.id == ScoreOutbox.resource_link_id)
            .join(CourseContext, CourseContext.id == ResourceLink.context_id)
            .where(CourseContext.issuer == issuer)
        )
    return list(session.scalars(query))


def retry(
    session: Session, row_ids: Iterable[int] | None, *, actor: str, issuer: str | None = None
) -> list[int]:
    """Put dead rows back in the queue (``None``: every dead row, of ``issuer`` if given).

    A retried row older than another score of the same pair is superseded at claim
    time instead of sent: retrying never sends an older score after a newer one.
    """
    rows = dead_letters(session, issuer)
    if row_ids is not None:
        wanted = set(row_ids)
        rows = [r for r in rows if r.id in wanted]
    now = utcnow()
    for row in rows:
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = now
        row.claimed_by = None
        audit.record(
            session,
            "sync.retried",
            actor=actor,
            learner_id=row.learner_id,
            summary=f"score #{row.id} queued again by {actor}",
            outbox_id=row.id,
            previous_error=row.last_error,
        )
    session.commit()
    return [r.id for r in rows]


def status_counts(session: Session) -> dict[str, int]:
    """How many scores are in each status (pending, sending, delivered, dead...)."""
    return {
        status: count
        for status, count in session.execute(
            select(ScoreOutbox.status, func.count()).group_by(ScoreOutbox.status)
        )
    }


@dataclass(frozen=True)
class SyncOverview:
    counts: dict[str, int]
    oldest_pending_at: datetime | None
    dead: list[ScoreOutbox]


def sync_overview(session: Session, issuer: str, context_id: str | None = None) -> SyncOverview:
    """Per status counts for a platform (or one course), for the admin page."""
    scope = (
        select(ScoreOutbox.id)
        .join(ResourceLink, ResourceLink.id == ScoreOutbox.resource_link_id)
        .join(CourseContext, CourseContext.id == ResourceLink.context_id)
        .where(CourseContext.issuer == issuer)
    )
    if context_id is not None:
        scope = scope.where(CourseContext.context_id == context_id)
    counts = {
        status: count
        for status, count in session.execute(
            select(ScoreOutbox.status, func.count())
            .where(ScoreOutbox.id.in_(scope))
            .group_by(ScoreOutbox.status)
        )
    }
    oldest = session.scalar(
        select(func.min(ScoreOutbox.created_at)).where(
            ScoreOutbox.id.in_(scope), ScoreOutbox.status.in_(("pending", "sending"))
        )
    )
    dead = list(
        session.scalars(
            select(ScoreOutbox)
            .where(ScoreOutbox.id.in_(scope), ScoreOutbox.status == "dead")
            .order_by(ScoreOutbox.id)
        )
    )
    return SyncOverview(counts=counts, oldest_pending_at=oldest, dead=dead)
