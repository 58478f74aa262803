"""SQL over lists of values that stays cheap on PostgreSQL: ``column IN (values)`` as
one cached SQL text, and many-row INSERTs (:func:`insert_rows`).

An expanded ``IN (:p1, :p2, ...)`` is new SQL text for every list length, so neither
SQLAlchemy's nor psycopg's statement cache helps and PostgreSQL plans it afresh;
``column = ANY(:array)`` is one text with one parameter. SQLite has no arrays and
keeps ``IN``. Lists are cut in chunks of :data:`CHUNK` by the callers.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    Table,
    any_,
    bindparam,
    insert,
    text,
)
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.sqltypes import NullType

CHUNK = 500
T = TypeVar("T")


def one_of(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Collection[Any],
) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        item_type = column.type
        if isinstance(item_type, NullType):  # e.g. func.lower(...): text
            item_type = String()
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))
    return column.in_(list(values))


def chunks(values: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# On PostgreSQL, up to this many rows go as one multi-row INSERT: one round trip, where
# psycopg's executemany costs a pipeline sync even for two rows (a single xAPI POST
# 3.7 -> 2.8 ms in-process). More rows go through executemany: a multi-row INSERT of a
# thousand rows is a text of ten thousand placeholders that psycopg parses anew each
# time (a quarter of a derivation round's time), where executemany parses one row's.
FEW_ROWS = 16


def insert_rows(executor: Session | Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table``, in the caller's
    transaction."""
    if not rows:
        return
    dialect = executor.get_bind().dialect if isinstance(executor, Session) else executor.dialect
    if 1 < len(rows) <= FEW_ROWS and dialect.name == "postgresql":
        statement = _multi_row_insert(table, tuple(rows[0]), len(rows))
        if statement is not None:
            values = {f"{name}_{n}": row[name] for n, row in enumerate(rows) for name in row}
            executor.execute(statement, values)
            return
    executor.execute(_insert(table), rows)


@functools.lru_cache(maxsize=64)
def _insert(table: Table) -> Insert:
    """``insert(table)``, built once: building one (and its cache key) costs more than
    running it on SQLite."""
    return insert(table)


@functools.lru_cache(maxsize=256)
def _multi_row_insert(table: Table, columns: tuple[str, ...], count: int) -> TextClause | None:
    """One INSERT of ``count`` rows as SQL text with typed parameters, built once, so
    that it is compiled once (``insert().values(rows)`` is compiled at every call).
    None when a column left out has a Python-side default: only ``insert()`` fills it."""
    if any(column.default is not None and column.name not in columns for column in table.c):
        return None
    # Only names of the table's own columns reach the text; every value is a parameter.
    names = ", ".join(table.c[name].name for name in columns)
    rows = ", ".join(
        "(" + ", ".join(f":{name}_{n}" for name in columns) + ")" for n in range(count)
    )
    sql = f"INSERT INTO {table.name} ({names}) VALUES {rows}"  # noqa: S608
    return text(sql).bindparams(
        *(
            bindparam(f"{name}_{n}", type_=table.c[name].type)
            for n in range(count)
            for name in columns
        )
    )
