"""``lti-tool db ...``: schema migrations."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from lti_tool import migrate
from lti_tool.database import db


@click.group("db")
def db_group() -> None:
    """Database schema."""


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
