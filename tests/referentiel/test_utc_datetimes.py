"""UTCDateTime on SQLite: the text it writes is SQLAlchemy's own DATETIME text, so rows
written before and after its faster bind processor compare and sort alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from referentiel.orm import UTCDateTime

MOMENTS = [
    datetime(2026, 3, 2, 8, 15, 27, tzinfo=UTC),
    datetime(2026, 3, 2, 9, 15, 27, 123456, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_text_is_sqlalchemys_datetime_text_in_utc(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))


def test_naive_datetimes_are_still_refused_on_sqlite() -> None:
    process = UTCDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 3, 2, 8, 15, 27))
    assert process(None) is None


def test_values_round_trip_and_sort_in_time_order_on_sqlite() -> None:
    engine = create_engine("sqlite://")
    table = Table(
        "moments",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime()),
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"at": moment} for moment in MOMENTS])
        stored = connection.execute(text("SELECT at FROM moments ORDER BY id")).scalars().all()
        back = connection.execute(select(table.c.at).order_by(table.c.at)).scalars().all()
    assert stored[0] == "2026-03-02 08:15:27.000000"
    assert stored[1] == "2026-03-02 08:15:27.123456"  # +01:00 given, UTC kept
    assert back == sorted(moment.astimezone(UTC) for moment in MOMENTS)
