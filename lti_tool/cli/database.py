"""``lti-tool db ...``: schema migrations, backups and restoring them."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from lti_tool import migrate, restore
from lti_tool.backup import back_up
from lti_tool.database import db


@click.group("db")
def db_group() -> None:
    """Database schema, backups and restoring them."""


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


@db_group.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
@click.option(
    "--keep-current",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save the database as it is first (default: beside BACKUP, "
    "before-restore-<UTC time>.sqlite3 or .dump).",
)
@with_appcontext
def restore_command(backup: Path, yes: bool, keep_current: Path | None) -> None:
    """Replace the whole database with BACKUP, a file `lti-tool db backup` made, with
    the tool stopped. The database as it is is saved first; a backup from an older
    version is brought to this version's schema by `lti-tool db upgrade` after."""
    engine = db.engine
    checked = restore.check(engine, backup)
    with db.new_session() as session:
        restore.refuse_if_running(session)
    keep = keep_current or restore.default_keep(backup, checked.kind)
    where = engine.url.render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Replace every row of {where} with {backup}?", abort=True)
    done = restore.restore(engine, checked, keep)
    if done.kept is not None:
        click.echo(f"The database as it was is saved at {done.kept.path}.")
    click.echo(f"Restored {backup} (schema revision {checked.revision}) into {where}.")
    if not checked.newest:
        click.echo("This backup's schema is older than this version's: run `lti-tool db upgrade`.")
