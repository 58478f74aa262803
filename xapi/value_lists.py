"""SQL over lists of values that stays cheap on PostgreSQL: ``column IN (values)`` and
``(a, b) IN (pairs)`` as one cached SQL text each, and many-row INSERTs
(:func:`insert_rows`).

An expanded ``IN (:p1, :p2, ...)`` is new SQL text for every list length, so neither
SQLAlchemy's nor psycopg's statement cache helps and PostgreSQL plans it afresh;
``column = ANY(:array)`` is one text with one parameter. SQLite has no arrays and
keeps ``IN``. Lists are cut in chunks of :data:`CHUNK` by the callers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.dml import Insert
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


def pairs_of(
    session: Session,
    first: ColumnElement[int] | QueryableAttribute[int],
    second: ColumnElement[int] | QueryableAttribute[int],
    pairs: Collection[tuple[int, int]],
) -> ColumnElement[bool]:
    """``(first, second) IN pairs``, exactly, as one SQL text whatever the number of
    pairs, which each database answers from an index on the two columns: the pairs go
    as two arrays unnested side by side (PostgreSQL) or as one JSON array of
    ``[first, second]`` read by ``json_each`` (SQLite)."""
    ordered = sorted((int(a), int(b)) for a, b in pairs)
    if session.get_bind().dialect.name == "postgresql":
        listed = (
            func.unnest(
                bindparam(None, [a for a, _ in ordered], type_=ARRAY(Integer)),
                bindparam(None, [b for _, b in ordered], type_=ARRAY(Integer)),
            )
            .table_valued("first", "second")
            .render_derived()
        )
        wanted = select(listed.c.first, listed.c.second)
    else:
        listed = func.json_each(
            bindparam(None, json.dumps(ordered, separators=(",", ":")), type_=String())
        ).table_valued("value")
        wanted = select(
            func.json_extract(listed.c.value, "$[0]"), func.json_extract(listed.c.value, "$[1]")
        )
    return tuple_(first, second).in_(wanted)


def chunks(values: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# On PostgreSQL, up to this many rows go as one multi-row INSERT: one round trip, where
# psycopg's executemany costs a pipeline sync even for two rows (a single xAPI POST
# 3.7 -> 2.8 ms in-process). More rows go through executemany: a multi-row INSERT of a
# thousand rows is a text of ten thousand placeholders that psycopg parses anew each
# time (a quarter of a derivation round's time), where executemany parses one row's.
FEW_ROWS = 16
# The driver's placeholder, by DB-API paramstyle (positional parameters).
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@dataclass(frozen=True)
class _DriverInsert:
    """An INSERT as the driver's own SQL text, with what turns each value into what the
    driver takes (the column type's bind processor, as SQLAlchemy would apply it), and
    the Python-side defaults of the columns the rows leave out."""

    sql: str
    copy_sql: str  # the same rows through COPY (PostgreSQL)
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]  # one per column
    # Per column left out with a Python-side default: (callable or None, scalar, processor).
    defaults: tuple[tuple[Callable[[Any], Any] | None, Any, Callable[[Any], Any] | None], ...]

    def values(self, row: dict[str, Any]) -> list[Any]:
        out = [row[name] for name in self.columns]
        for index, convert in self._processed:
            out[index] = convert(out[index])
        for make, scalar, process in self.defaults:
            value = make(None) if make is not None else scalar
            out.append(value if process is None else process(value))
        return out

    @functools.cached_property
    def _processed(self) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The columns whose values go through a processor (most go as they are)."""
        return tuple((index, process) for index, process in enumerate(self.processors) if process)


def insert_rows(executor: Session | Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table``, in the caller's
    transaction.

    The SQL goes to the driver as text built once per table, columns and row count
    (``exec_driver_sql``): Core's executemany compiles nothing either, but processes
    every row's parameters in Python, which cost more than SQLite's own insert (a
    100-statement batch writes 700 index rows). On PostgreSQL, more than a few rows go
    through COPY (:func:`_copy_rows`). Values go through the same bind processors Core
    would use, so the stored values are the same.
    """
    if not rows:
        return
    connection = executor.connection() if isinstance(executor, Session) else executor
    if insert_as_one_statement(connection, [(table, rows)]):
        return
    plan = _driver_insert(table, tuple(rows[0]), connection.dialect, 1)
    if plan is None:
        connection.execute(_insert(table), rows)
    elif connection.dialect.name == "postgresql":
        _copy_rows(connection, plan, rows)
    elif len(rows) == 1:
        connection.exec_driver_sql(plan.sql, tuple(plan.values(rows[0])))
    else:
        connection.exec_driver_sql(plan.sql, [tuple(plan.values(row)) for row in rows])


def _copy_rows(connection: Connection, plan: _DriverInsert, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows through COPY, in the caller's transaction. psycopg's
    pipelined executemany spent more of a 100-statement batch in Python, row by row,
    than PostgreSQL spent inserting (its 900 rows: 23 -> 20 ms in-process)."""
    if not connection.in_transaction():
        # The rows go past SQLAlchemy: without its transaction begun, the caller's
        # commit() would commit nothing, and closing the connection would roll them back.
        connection.begin()
    dialect = connection.dialect
    driver = connection.connection.dbapi_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(plan.copy_sql) as copy:
            for row in rows:
                copy.write_row(plan.values(row))
    except dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy raises a driver's error (an IntegrityError for a key stored
        # meanwhile, which the Statements resource retries on), values hidden.
        lost = dialect.is_disconnect(error, driver, cursor)
        if lost:
            connection.invalidate()
        raise DBAPIError.instance(
            plan.copy_sql,
            None,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()


def insert_into_tables(
    executor: Session | Connection, batches: Sequence[tuple[Table, list[dict[str, Any]]]]
) -> None:
    """:func:`insert_rows` into several tables, in order; on PostgreSQL, when every
    table has few rows (a single statement's row and its index rows), as one statement
    (:func:`insert_as_one_statement`)."""
    connection = executor.connection() if isinstance(executor, Session) else executor
    if insert_as_one_statement(connection, batches):
        return
    for table, rows in batches:
        insert_rows(connection, table, rows)


def insert_as_one_statement(
    connection: Connection, batches: Sequence[tuple[Table, list[dict[str, Any]]]]
) -> bool:
    """On PostgreSQL, when no table has more than :data:`FEW_ROWS` rows: the rows of
    these tables (tables without rows skipped) as one statement, a multi-row INSERT per
    table and the INSERTs but the last as data-modifying CTEs, so one round trip,
    atomic on its own (foreign keys are checked at the end of the statement, so a row
    may name one inserted beside it). False, having executed nothing, when that cannot
    be (another database, too many rows, a default computed in SQL)."""
    batches = [(table, rows) for table, rows in batches if rows]
    dialect = connection.dialect
    if (
        not batches
        or dialect.name != "postgresql"
        or any(len(rows) > FEW_ROWS for _, rows in batches)
    ):
        return False
    plans = [_driver_insert(table, tuple(rows[0]), dialect, len(rows)) for table, rows in batches]
    if any(plan is None for plan in plans):
        return False
    inserts = [(plan, rows) for plan, (_, rows) in zip(plans, batches, strict=True) if plan]
    connection.exec_driver_sql(
        _with_statements(tuple(plan.sql for plan, _ in inserts)),
        tuple(value for plan, rows in inserts for row in rows for value in plan.values(row)),
    )
    return True


@functools.lru_cache(maxsize=256)
def _with_statements(inserts: tuple[str, ...]) -> str:
    """The INSERTs as one statement: all but the last as CTEs (their placeholders stay
    in the same order)."""
    if len(inserts) == 1:
        return inserts[0]
    ctes = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(inserts[:-1]))
    return f"WITH {ctes} {inserts[-1]}"


@functools.lru_cache(maxsize=64)
def _insert(table: Table) -> Insert:
    """``insert(table)``, built once: building one (and its cache key) costs more than
    running it on SQLite."""
    return insert(table)


@functools.lru_cache(maxsize=256)
def _driver_insert(
    table: Table, columns: tuple[str, ...], dialect: Dialect, count: int
) -> _DriverInsert | None:
    """The INSERT of ``count`` rows of these columns (one VALUES list per row), or None
    when the driver's paramstyle is not positional or a column left out has a default
    computed in SQL (then Core does it)."""
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:
        return None

    def processor(column: Column[Any]) -> Callable[[Any], Any] | None:
        return column.type.dialect_impl(dialect).bind_processor(dialect)

    defaults: list[tuple[Callable[[Any], Any] | None, Any, Callable[[Any], Any] | None]] = []
    defaulted: list[str] = []
    for column in table.c:
        default = column.default
        if column.name in columns or default is None:
            continue
        if getattr(default, "is_scalar", False):
            defaults.append((None, default.arg, processor(column)))  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            defaults.append((default.arg, None, processor(column)))  # type: ignore[attr-defined]
        else:
            return None
        defaulted.append(column.name)
    processors = tuple(processor(table.c[name]) for name in columns)
    names = [*columns, *defaulted]
    quote = dialect.identifier_preparer.quote
    one_row = "(" + ", ".join([placeholder] * len(names)) + ")"
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    sql = f"INSERT INTO {target} VALUES {', '.join([one_row] * count)}"  # noqa: S608
    return _DriverInsert(sql, f"COPY {target} FROM STDIN", columns, processors, tuple(defaults))
