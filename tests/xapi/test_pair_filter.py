"""``(a, b) IN pairs`` (xapi.value_lists.pairs_of), which achievement recompute reads
states, evidence and overrides by: exactly the pairs asked for, never the cross product
of their first and second values, as one SQL text whatever the number of pairs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, Table, select
from sqlalchemy.orm import Session

from xapi.value_lists import pairs_of

GRID = range(1, 41)


@pytest.fixture
def probe(session: Session) -> Iterator[Table]:
    """A table holding every (a, b) of GRID × GRID, indexed on (a, b) as the states are."""
    table = Table(
        "pair_filter_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("a", Integer, nullable=False),
        Column("b", Integer, nullable=False),
        Index("ix_pair_filter_probe", "a", "b"),
    )
    table.create(session.connection())
    session.execute(table.insert(), [{"a": a, "b": b} for a in GRID for b in GRID])
    yield table
    session.rollback()
    table.drop(session.connection(), checkfirst=True)
    session.commit()


def _found(session: Session, table: Table, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    rows = session.execute(
        select(table.c.a, table.c.b).where(pairs_of(session, table.c.a, table.c.b, pairs))
    )
    return {(a, b) for a, b in rows}


def test_only_the_pairs_asked_for_not_their_cross_product(session: Session, probe: Table) -> None:
    assert _found(session, probe, {(1, 2), (3, 4)}) == {(1, 2), (3, 4)}


def test_pairs_absent_from_the_table_are_simply_not_found(session: Session, probe: Table) -> None:
    assert _found(session, probe, {(2, 2), (99, 1), (1, 99)}) == {(2, 2)}
    assert _found(session, probe, set()) == set()


def test_a_thousand_pairs_in_one_statement(session: Session, probe: Table) -> None:
    wanted = {(a, b) for a in GRID for b in GRID if (a * 7 + b) % 3 == 0}
    assert len(wanted) > 500
    assert _found(session, probe, wanted) == wanted


def test_the_sql_text_does_not_depend_on_how_many_pairs(session: Session, probe: Table) -> None:
    dialect = session.get_bind().dialect

    def sql(pairs: set[tuple[int, int]]) -> str:
        return str(pairs_of(session, probe.c.a, probe.c.b, pairs).compile(dialect=dialect))

    assert sql({(1, 1)}) == sql({(a, 1) for a in GRID})
