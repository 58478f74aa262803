"""``lti-tool jury record``: a course's jury record (procès-verbal) for the certifier, as
the trainer's dashboard exports it (:mod:`lti_tool.jury_record`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from lti_tool.course_scope import DEFAULT_FRAMEWORK_KEY, course_named, placement_for
from lti_tool.database import db
from lti_tool.exceptions import NotFound
from lti_tool.jury_record import jury_table, to_xlsx
from lti_tool.spreadsheet_csv import table_csv
from referentiel.models import Framework


@click.group("jury")
def jury_group() -> None:
    """Jury deliberations."""


@jury_group.command("record")
@click.option("--platform", "issuer", required=True, help="The platform's issuer.")
@click.option("--context", "context_id", required=True, help="The course's context id.")
@click.option(
    "--framework",
    "framework_key",
    default=DEFAULT_FRAMEWORK_KEY,
    show_default=True,
    help="The référentiel whose blocs the record covers.",
)
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
)
@click.option("--separator", type=click.Choice([",", ";"]), default=",", help="CSV only.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (needed for XLSX); CSV goes to standard output otherwise.",
)
@with_appcontext
def record_command(
    issuer: str,
    context_id: str,
    framework_key: str,
    language: str,
    output_format: str,
    separator: str,
    output: Path | None,
) -> None:
    """Every deliberation of the course's learners, with its jurors: CSV or XLSX."""
    if output_format == "xlsx" and output is None:
        raise click.UsageError("XLSX needs --output FILE")
    course = course_named(db.session, issuer, context_id)
    if db.session.scalar(select(Framework.id).where(Framework.key == framework_key)) is None:
        raise NotFound(f"no référentiel {framework_key!r} is loaded")
    with force_locale(language):
        rows = jury_table(db.session, course, placement_for(db.session, framework_key))
        content = to_xlsx(rows) if output_format == "xlsx" else table_csv(rows, delimiter=separator)
    if output is None:
        click.echo(content, nl=False)  # bytes: written as they are
        return
    output.write_bytes(content)
    click.echo(f"{len(rows) - 1} deliberation(s) written to {output}.")
