"""``lti-tool evidence list|rederive|queue``: the current evidence as JSON or CSV, repairs,
and the statements still waiting for theirs."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.cli.table_output import json_text, output_format_option
from lti_tool.database import db
from lti_tool.evidence_export import COLUMNS, EvidenceFilter, evidence_rows
from lti_tool.spreadsheet_csv import csv_text
from referentiel.orm import utcnow
from xapi import derivation
from xapi.evidence import rederive_all


@click.group("evidence")
def evidence_group() -> None:
    """Evidence: statements counted for a learner and a competency."""


@evidence_group.command("list")
@click.option("--platform", help="Only this platform's learners (its issuer).")
@click.option("--learner", help="Only this learner (the LTI sub; add --platform to be sure).")
@click.option("--competency", help="Only this competency (its IRI).")
@output_format_option
@click.option(
    "--delimiter",
    "--separator",  # the name `progress` uses: either works on both
    "delimiter",
    type=click.Choice([",", ";"]),
    default=",",
    show_default=True,
    help="CSV delimiter; ';' also writes decimal commas, for French spreadsheets.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@with_appcontext
def list_command(
    platform: str | None,
    learner: str | None,
    competency: str | None,
    output_format: str,
    delimiter: str,
    output: Path | None,
) -> None:
    """List the current evidence (JSON, or CSV in UTF-8 with BOM for spreadsheets)."""
    rows = evidence_rows(
        db.session,
        current_app.config["BASE_URL"],
        EvidenceFilter(platform=platform, learner=learner, competency_iri=competency),
    )
    if output_format == "csv":
        text = csv_text(
            COLUMNS, ([row[name] for name in COLUMNS] for row in rows), delimiter=delimiter
        )
    else:
        text = json_text(rows)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    click.echo(f"Wrote {len(rows)} evidence rows to {output} ({output_format}).")


@evidence_group.command("rederive")
@with_appcontext
def rederive_command() -> None:
    """Recompute all evidence from the stored statements (after a référentiel revision,
    or to repair); idempotent."""
    session = db.session
    try:
        count, change = rederive_all(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    click.echo(
        f"Recomputed evidence from {count} statements: {change.added} added, "
        f"{change.withdrawn} withdrawn."
    )


@evidence_group.command("queue")
@click.option("--drain", is_flag=True, help="Derive everything queued now, then report.")
@click.option("--retry", is_flag=True, help="Queue the statements set aside after a failure again.")
@with_appcontext
def queue_command(drain: bool, retry: bool) -> None:
    """How many stored statements wait for their evidence and since when (a number that
    keeps growing means nothing derives: see EVIDENCE_DERIVATION), and those set aside
    because deriving them failed."""
    session = db.session
    if retry:
        click.echo(f"Queued {derivation.retry_failed(session)} statement(s) again.")
        session.commit()
    if drain:
        run = derivation.drain(session)
        click.echo(
            f"Derived {run.statements} statement(s): {run.change.added} evidence added, "
            f"{run.change.withdrawn} withdrawn."
        )
    waiting = derivation.backlog(session)
    if waiting.waiting and waiting.oldest is not None:
        age = (utcnow() - waiting.oldest).total_seconds()
        click.echo(
            f"{waiting.waiting} statement(s) wait for their evidence, the oldest for {age:.0f} s."
        )
    else:
        click.echo("No statement waits for its evidence.")
    for statement_id, when, why in derivation.failures(session):
        click.echo(f"Set aside: statement {statement_id} at {when.isoformat()}: {why}")
