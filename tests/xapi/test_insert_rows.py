"""Many-row INSERTs (xapi.value_lists.insert_rows): whichever way they go to the
database (one multi-row INSERT for a few rows on PostgreSQL, executemany otherwise),
every row arrives with its values, its types' conversions and its defaults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from referentiel.audit import AuditEvent
from xapi.models import DerivationQueue
from xapi.value_lists import FEW_ROWS, insert_rows

QUEUE: Table = DerivationQueue.__table__  # type: ignore[assignment]
AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]


@pytest.mark.parametrize("count", [1, 2, FEW_ROWS, FEW_ROWS + 1, 300])
def test_rows_arrive_with_their_values_and_types(session: Session, count: int) -> None:
    when = datetime(2026, 11, 27, 9, 30, 0, 123000, tzinfo=UTC)
    rows = [{"statement_id": f"s-{n}", "queued_at": when} for n in range(count)]
    insert_rows(session, QUEUE, rows)
    stored = session.execute(
        select(QUEUE.c.statement_id, QUEUE.c.queued_at, QUEUE.c.failed_at).order_by(QUEUE.c.id)
    ).all()
    assert [tuple(row) for row in stored] == [(f"s-{n}", when, None) for n in range(count)]


def test_columns_left_to_their_defaults_get_them(session: Session) -> None:
    """Audit rows leave ``at`` and ``actor`` (Python-side defaults) out."""
    rows = [
        {"kind": "test.event", "summary": f"event {n}", "details": {"n": n, "é": [1, 2]}}
        for n in range(3)
    ]
    insert_rows(session, AUDIT, rows)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.summary, e.details) for e in events] == [
        (f"event {n}", {"n": n, "é": [1, 2]}) for n in range(3)
    ]
    assert all(e.at is not None and e.actor == "system" for e in events)


def test_nothing_to_insert_is_no_statement(session: Session) -> None:
    insert_rows(session, QUEUE, [])
    assert session.execute(select(QUEUE.c.id)).all() == []
