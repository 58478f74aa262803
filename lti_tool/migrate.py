"""Alembic, driven from code: the migration scripts ship inside the package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "lti_tool:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def check(engine: Engine) -> None:
    """Raise when the models and the newest migration disagree."""
    command.check(alembic_config(engine))


def revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """The revisions the database is at (empty: no schema) and the newest ones shipped."""
    _, newest = shipped(engine)
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, newest


def shipped(engine: Engine) -> tuple[set[str], set[str]]:
    """Every revision this version ships, and the newest ones."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return {revision.revision for revision in script.walk_revisions()}, set(script.get_heads())
