"""``lti-tool referentiel ...``: list, load, export and import référentiels."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from lti_tool.database import db
from referentiel.document import FrameworkDocument
from referentiel.exceptions import ReferentielNotFound
from referentiel.exports import FORMATS, export_framework
from referentiel.loading import LoadResult, find_framework, load_document
from referentiel.models import Bloc, Competency, Framework
from referentiel.rncp import read_rncp_file
from referentiel.sources import read_source


@click.group("referentiel")
def referentiel_group() -> None:
    """Competency référentiels: list, load, export, import from RNCP."""


def _load(doc: FrameworkDocument, origin: str) -> LoadResult:
    """One transaction per document: all of it is written, or nothing."""
    session = db.session
    try:
        result = load_document(session, doc, actor="cli", origin=origin)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


@referentiel_group.command("list")
@with_appcontext
def list_command() -> None:
    """List the loaded référentiels with their IRIs."""
    session = db.session
    frameworks = session.scalars(select(Framework).order_by(Framework.key)).all()
    if not frameworks:
        click.echo("No référentiel loaded (try: lti-tool referentiel load diplovis-bgdc).")
        return
    base = current_app.config["BASE_URL"]
    for framework in frameworks:
        blocs = session.scalar(
            select(func.count(Bloc.id)).where(
                Bloc.framework_id == framework.id, Bloc.retired_at.is_(None)
            )
        )
        competencies = session.scalar(
            select(func.count(Competency.id))
            .join(Competency.bloc)
            .where(Bloc.framework_id == framework.id, Competency.retired_at.is_(None))
        )
        click.echo(
            f"{framework.key} {framework.version}: {framework.title} "
            f"({blocs} blocs, {competencies} competencies) {base}/referentiels/{framework.key}"
        )


@referentiel_group.command("load")
@click.argument("name_or_file")
@with_appcontext
def load_command(name_or_file: str) -> None:
    """Load or update a référentiel: a built-in name (diplovis-bgdc), our JSON file or a
    Moodle competency CSV. Idempotent; dropped competencies are retired, never deleted."""
    doc = read_source(name_or_file)
    click.echo(f"Loaded {_load(doc, origin=name_or_file).summary()}")


@referentiel_group.command("export")
@click.argument("framework")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="moodle-csv: Moodle's 'Import competency framework' CSV; case-json: a CASE 1.0 CFPackage.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@with_appcontext
def export_command(framework: str, fmt: str, output: Path | None) -> None:
    """Export a loaded référentiel (to standard output without -o)."""
    row = find_framework(db.session, framework)
    if row is None:
        raise ReferentielNotFound(f"no référentiel {framework!r} is loaded")
    exported = export_framework(
        row, fmt, base_url=current_app.config["BASE_URL"], creator=current_app.config["TOOL_NAME"]
    )
    if output is None:
        click.echo(exported.text, nl=False)
        return
    output.write_text(exported.text, encoding="utf-8")
    click.echo(f"Exported {row.key} {row.version} as {fmt} to {output}")


@referentiel_group.command("import-rncp")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fiche", metavar="RNCPnnnnn", help="Import only this fiche of the file.")
@with_appcontext
def import_rncp_command(file: Path, fiche: str | None) -> None:
    """Import fiches of France Compétences' RNCP XML export (streamed; all or nothing)."""
    documents = read_rncp_file(file, fiche=fiche)
    session = db.session
    try:
        results = [load_document(session, doc, actor="cli", origin=str(file)) for doc in documents]
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for result in results:
        click.echo(f"Loaded {result.summary()}")
