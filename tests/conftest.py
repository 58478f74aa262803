"""Shared fixtures: a migrated database per test, the app, its client and CLI runner.

The suite always runs on SQLite; with LTI_TOOL_TEST_DATABASE_URL set to a
PostgreSQL URL it runs there instead (CI runs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lti_tool import create_app, migrate
from lti_tool.database import db, make_engine
from tests.lms.fixtures import launch_flow, live_tool, lms  # noqa: F401 - shared fixtures

BASE_URL = "http://tool.test"


def pytest_configure(config: pytest.Config) -> None:
    """Every app the tests make derives evidence in the request, before its answer, so
    that tests read it at once and no app leaves a drainer thread polling the shared
    test database; tests/lti_tool/xapi/test_derivation_modes.py covers the other modes.

    Rate limits are off, so that no test is refused for making many requests from
    one address; tests/lti_tool/test_rate_limits.py turns them on."""
    os.environ["LTI_TOOL_EVIDENCE_DERIVATION"] = "inline"
    os.environ["LTI_TOOL_RATE_LIMIT_ENABLED"] = "false"


def postgres_url() -> str | None:
    """The PostgreSQL database the suite also runs on, if any (tests that need a
    database of their own create one beside it with :func:`ensure_postgres_database`)."""
    return os.environ.get("LTI_TOOL_TEST_DATABASE_URL") or None


def ensure_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a database at the newest schema: a template file for SQLite."""
    pg = postgres_url()
    if pg:
        ensure_postgres_database(pg)
        engine = make_engine(pg)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        engine.dispose()
        return pg
    template = tmp_path_factory.mktemp("db") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{template}")
    migrate.upgrade(engine)
    engine.dispose()
    return f"sqlite:///{template}"


def _truncate_all(engine: Engine) -> None:
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    if tables:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(migrated_database: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    if migrated_database.startswith("postgresql"):
        yield migrated_database
        engine = make_engine(migrated_database)
        _truncate_all(engine)
        engine.dispose()
        return
    copy = tmp_path / "test.sqlite3"
    shutil.copy(migrated_database.removeprefix("sqlite:///"), copy)
    yield f"sqlite:///{copy}"


@pytest.fixture
def app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "BASE_URL": BASE_URL,
            "SECRET_KEY": "test-secret-key",
        }
    )
    yield application
    application.extensions["database"]["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session inside the app's context, as views and commands see it."""
    with app.app_context():
        yield db.session


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` are skipped, with the reason, when the suite runs on
    SQLite."""
    if postgres_url():
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks with SKIP LOCKED): "
        "set LTI_TOOL_TEST_DATABASE_URL to a PostgreSQL URL"
    )
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)
