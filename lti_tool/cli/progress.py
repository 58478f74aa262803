"""``lti-tool progress``: a course's achievement table, as JSON or CSV."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.achievement.progress import CompetencyRow, class_progress
from lti_tool.cli.table_output import json_text, output_format_option
from lti_tool.database import db
from lti_tool.spreadsheet_csv import csv_text

COLUMNS = (
    "learner",
    "competency_iri",
    "competency",
    "bloc",
    "state",
    "source",
    "score",
    "evidence_count",
    "last_evidence_at",
    "conflicting",
    "rule_version",
)


def _record(row: CompetencyRow) -> dict[str, Any]:
    return {
        "learner": row.learner_sub,
        "competency_iri": row.competency_iri,
        "competency": row.competency_code,
        "bloc": row.bloc_key,
        "state": row.state,
        "source": row.state_source,
        "score": None if row.score is None else round(row.score, 4),
        "evidence_count": row.evidence_count,
        "last_evidence_at": row.last_evidence_at.isoformat() if row.last_evidence_at else None,
        "conflicting": row.conflicting,
        "rule_version": row.rule_version,
    }


@click.command("progress")
@click.option("--platform", "issuer", required=True, help="The platform's issuer.")
@click.option("--context", "context_id", required=True, help="The course's context id.")
@click.option("--learner", "learner_sub", default=None, help="Only this learner (their sub).")
@output_format_option
@click.option(
    "--separator",
    "--delimiter",  # the name `evidence list` uses: either works on both
    "separator",
    type=click.Choice([",", ";"]),
    default=",",
    show_default=True,
    help="CSV only.",
)
@with_appcontext
def progress_command(
    issuer: str, context_id: str, learner_sub: str | None, output_format: str, separator: str
) -> None:
    """Print the achievement table: learner, competency, state, score, evidence, last date."""
    progress = class_progress(db.session, issuer, context_id, learner_sub)
    rows = [_record(r) for r in progress.rows(current_app.config["BASE_URL"])]
    if output_format == "json":
        click.echo(json_text(rows), nl=False)
        return
    table = ([record[column] for column in COLUMNS] for record in rows)
    click.echo(csv_text(COLUMNS, table, delimiter=separator), nl=False)
