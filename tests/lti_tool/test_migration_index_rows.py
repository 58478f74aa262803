"""Migration 0120: the agent and activity index rows of statements already stored get
their statement's ``stored``, and the statements stay findable by agent and activity.
Run on SQLite, and on PostgreSQL too when ``LTI_TOOL_TEST_DATABASE_URL`` names one (in
a database of its own beside it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, column, insert, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.database import make_engine
from tests.conftest import ensure_postgres_database, postgres_url
from xapi.identifiers import digest
from xapi.models import Statement, StatementActivity, StatementAgent
from xapi.statement_query import StatementQuery, find_statements

BEFORE = "0110_xapi_documents"
STORED = [datetime(2026, 3, 2, 9, 15, 27, 123000, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)]
IDS = ["6c1bb0a4-3b1f-4b43-9d1e-7f0b2d0f6a11", "0a9e5a7e-5c7d-4c0c-8e55-3a1f0d6c2b22"]
QUIZ = "https://moodle.example.org/mod/quiz/view.php?id=4"
AGENT_KEY = "5" * 64
# The index tables as they were at 0110, without ``stored``.
OLD_AGENTS = table(
    "xapi_statement_agent", column("statement_id"), column("agent_key"), column("relation")
)
OLD_ACTIVITIES = table(
    "xapi_statement_activity",
    column("statement_id"),
    column("activity_key"),
    column("activity_id"),
    column("relation"),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    else:
        shared = postgres_url()
        if not shared:
            pytest.skip("set LTI_TOOL_TEST_DATABASE_URL to a PostgreSQL URL")
        target = make_url(shared)
        url = target.set(database=f"{target.database}_migration").render_as_string(
            hide_password=False
        )
        ensure_postgres_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    yield engine
    engine.dispose()


def _store_two_statements_at_0110(engine: Engine) -> None:
    migrate.upgrade(engine, BEFORE)
    with engine.begin() as conn:
        for ident, stored in zip(IDS, STORED, strict=True):
            conn.execute(
                insert(Statement.__table__).values(
                    id=ident,
                    raw="{}",
                    stored=stored,
                    timestamp=stored,
                    verb_id="http://adlnet.gov/expapi/verbs/completed",
                    object_id=QUIZ,
                    actor_key="account:https://moodle.example.org|7",
                    voided=False,
                )
            )
            conn.execute(
                insert(OLD_AGENTS).values(statement_id=ident, agent_key=AGENT_KEY, relation="actor")
            )
            conn.execute(
                insert(OLD_ACTIVITIES).values(
                    statement_id=ident,
                    activity_key=digest(QUIZ),
                    activity_id=QUIZ,
                    relation="object",
                )
            )


def test_rows_stored_before_get_their_statement_s_stored_and_stay_findable(
    engine: Engine,
) -> None:
    _store_two_statements_at_0110(engine)

    migrate.upgrade(engine)

    with Session(engine) as session:
        for model in (StatementAgent, StatementActivity):
            rows = session.execute(
                select(model.statement_id, model.stored).order_by(model.statement_id)
            ).all()
            assert [tuple(row) for row in rows] == sorted(zip(IDS, STORED, strict=True))
        for query in (
            StatementQuery({}, agent_key=AGENT_KEY),
            StatementQuery({}, activity=QUIZ),
        ):
            found, _more = find_statements(session, query)
            assert sorted(s.id for s in found) == sorted(IDS)
    indexes = {
        i["name"]: i["column_names"] for i in inspect(engine).get_indexes("xapi_statement_activity")
    }
    assert indexes["ix_xapi_statement_activity_key"] == ["activity_key", "stored", "statement_id"]


def test_the_migration_goes_back_down(engine: Engine) -> None:
    _store_two_statements_at_0110(engine)
    migrate.upgrade(engine)

    command.downgrade(migrate.alembic_config(engine), BEFORE)

    columns = {c["name"] for c in inspect(engine).get_columns("xapi_statement_agent")}
    assert "stored" not in columns
    with engine.connect() as conn:
        assert conn.execute(select(OLD_AGENTS.c.statement_id)).scalars().all() != []
