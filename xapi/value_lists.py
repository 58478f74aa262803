"""``column IN (values)`` that stays one cached SQL text on PostgreSQL.

An expanded ``IN (:p1, :p2, ...)`` is new SQL text for every list length, so neither
SQLAlchemy's nor psycopg's statement cache helps and PostgreSQL plans it afresh;
``column = ANY(:array)`` is one text with one parameter. SQLite has no arrays and
keeps ``IN``. Lists are cut in chunks of :data:`CHUNK` by the callers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam
from sqlalchemy.orm import QueryableAttribute, Session
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
