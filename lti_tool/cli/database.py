"""``lti-tool db ...``: schema migrations and backups."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from lti_tool import migrate
from lti_tool.backup import back_up
from lti_tool.database import db


@click.group("db")
def db_group() -> None:
    """Database schema and backups."""


@db_group.command("upgrade")
@with_appcontext
def upgrade_command() -> None:
    """Bring the database to the newest schema."""
    migrate.upgrade(db.engine)
    click.echo(
        f"Database at the newest schema ({db.engine.url.render_as_string(hide_password=True)})."
    )


@db_group.command("check")
@with_appcontext
def check_command() -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(db.engine)
    click.echo("Models and migrations agree.")


@db_group.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(destination: Path) -> None:
    """Copy the whole database to DESTINATION (a new file) while the tool runs:
    SQLite's online backup, or pg_dump's custom format on PostgreSQL."""
    made = back_up(db.engine, destination)
    click.echo(f"Backed up to {made.path} ({made.size:,} bytes).")
    click.echo(f"To restore: {made.restore}")
