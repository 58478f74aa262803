"""Many-row INSERTs (xapi.value_lists.insert_rows), sent to the driver as its own SQL
text: whichever way they go (one multi-row INSERT for a few rows on PostgreSQL,
executemany otherwise), every row arrives with its values, its types' conversions and
its defaults, and the driver's errors come as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from referentiel.audit import AuditEvent
from xapi.models import DerivationQueue, Statement, StatementAgent
from xapi.value_lists import FEW_ROWS, insert_into_tables, insert_rows

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


@pytest.mark.parametrize("count", [3, 40])
def test_columns_left_to_their_defaults_get_them(session: Session, count: int) -> None:
    """Audit rows leave ``at`` and ``actor`` (Python-side defaults) out."""
    rows = [
        {"kind": "test.event", "summary": f"event {n}", "details": {"n": n, "é": [1, 2]}}
        for n in range(count)
    ]
    insert_rows(session, AUDIT, rows)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.summary, e.details) for e in events] == [
        (f"event {n}", {"n": n, "é": [1, 2]}) for n in range(count)
    ]
    assert all(e.at is not None and e.actor == "system" for e in events)


def test_text_arrives_byte_for_byte_whatever_it_holds(session: Session) -> None:
    """Tabs, newlines, backslashes and quotes are what COPY's text format escapes."""
    awkward = ["a\tb", "line 1\nline 2\r\n", "back\\slash \\N", "'quoted' \"too\"", "é ✓ 𝄞", ""]
    rows = [{"statement_id": text, "queued_at": datetime.now(UTC)} for text in awkward * 5]
    insert_rows(session, QUEUE, rows)
    stored = session.scalars(select(QUEUE.c.statement_id).order_by(QUEUE.c.id)).all()
    assert stored == awkward * 5


@pytest.mark.parametrize("count", [1, FEW_ROWS + 24])
def test_rows_inserted_first_on_a_connection_are_committed_by_its_commit(
    session: Session, count: int
) -> None:
    """A bare connection whose first statement is the insert (``engine.connect()``,
    then ``commit()``): the rows are committed, however they were sent."""
    engine = session.get_bind()
    rows = [{"statement_id": f"first-{n}", "queued_at": datetime.now(UTC)} for n in range(count)]
    with engine.connect() as connection:  # type: ignore[union-attr]
        insert_rows(connection, QUEUE, rows)
        connection.commit()
    with engine.connect() as other:  # type: ignore[union-attr]
        stored = other.execute(select(func.count()).select_from(QUEUE)).scalar()
    assert stored == count


def test_nothing_to_insert_is_no_statement(session: Session) -> None:
    insert_rows(session, QUEUE, [])
    assert session.execute(select(QUEUE.c.id)).all() == []


def _statement_row(statement_id: str) -> dict[str, object]:
    return {
        "id": statement_id,
        "raw": "{}",
        "stored": datetime(2026, 11, 27, tzinfo=UTC),
        "timestamp": datetime(2026, 11, 27, tzinfo=UTC),
        "verb_id": "http://adlnet.gov/expapi/verbs/completed",
        "actor_key": "account:https://moodle.example.org|7",
    }


@pytest.mark.parametrize("count", [1, FEW_ROWS + 4])
def test_a_duplicate_key_is_sqlalchemys_integrity_error(session: Session, count: int) -> None:
    """The Statements resource retries on IntegrityError (an id stored concurrently):
    the driver's own error must reach it wrapped as SQLAlchemy's, a few rows or many."""
    statements: Table = Statement.__table__  # type: ignore[assignment]
    row = _statement_row("0b7e3f4e-8d5a-4c1e-9a3b-2f6d7c8e9a01")
    insert_rows(session, statements, [row])
    others = [_statement_row(f"0b7e3f4e-8d5a-4c1e-9a3b-{n:012d}") for n in range(count - 1)]
    with pytest.raises(IntegrityError):
        insert_rows(session, statements, [*others, row])


def test_rows_of_several_tables_go_in_order_and_on_postgresql_as_one_statement(
    session: Session,
) -> None:
    """A statement, its index rows (which reference it) and its queue row: on
    PostgreSQL one statement of CTEs, foreign keys checked at its end."""
    statement_id = "5f0c2a3e-1b4d-4e6f-8a9b-0c1d2e3f4a5b"
    agents: Table = StatementAgent.__table__  # type: ignore[assignment]
    sent: list[str] = []
    connection = session.connection()

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        sent.append(sql)

    event.listen(connection, "before_cursor_execute", count)
    try:
        insert_into_tables(
            session,
            [
                (Statement.__table__, [_statement_row(statement_id)]),  # type: ignore[list-item]
                (
                    agents,
                    [
                        {
                            "statement_id": statement_id,
                            "stored": datetime(2026, 11, 27, tzinfo=UTC),
                            "agent_key": f"k{n}",
                            "relation": "actor",
                        }
                        for n in range(3)
                    ],
                ),
                (QUEUE, []),
                (QUEUE, [{"statement_id": statement_id, "queued_at": datetime.now(UTC)}]),
            ],
        )
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert session.scalar(select(func.count()).select_from(agents)) == 3
    assert session.scalars(select(QUEUE.c.statement_id)).all() == [statement_id]
    assert len(sent) == (1 if session.get_bind().dialect.name == "postgresql" else 3)
