"""``lti-tool evidence list|rederive|queue|gaps``: the current evidence as JSON or CSV,
repairs, the statements still waiting for theirs, and why others gave none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.cli.table_output import json_text, output_format_option
from lti_tool.database import db
from lti_tool.evidence_export import COLUMNS, EvidenceFilter, evidence_rows
from lti_tool.spreadsheet_csv import csv_text
from referentiel.orm import utcnow
from xapi import derivation
from xapi.evidence import Gap, rederive_all
from xapi.evidence_gaps import GapReport, evidence_gaps


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


# What each reason means for whoever runs the command, and what would change it.
_GAP_TEXT = {
    Gap.VOIDED: "were voided meanwhile (by statement id)",
    Gap.VOIDING: "void other statements (by statement id)",
    Gap.UNREADABLE: "hold JSON that can no longer be read (by statement id)",
    Gap.NOT_AN_AGENT: "have a Group as actor: evidence is a person's (by actor)",
    Gap.NOT_AN_ACTIVITY: "have an object that is not an activity (by object type)",
    Gap.NO_RESULT: (
        "say nothing of a result (no score, success or completion, nor a verb such as "
        "passed or completed): launches and views are kept as statements only (by verb)"
    ),
    Gap.UNKNOWN_LEARNER: (
        "come from an actor no launch has made known: they count as soon as that "
        "learner launches the tool or is on a course roster (by actor)"
    ),
    Gap.OTHER_PLATFORM: (
        "were sent with a credential bound to another platform than their learner's (by actor)"
    ),
    Gap.NO_COMPETENCY: (
        "are about an activity no competency IRI tags and no mapping rule names: "
        "`lti-tool xapi map add --activity IRI --competency IRI` makes them count "
        "(by activity)"
    ),
}


@evidence_group.command("gaps")
@click.option(
    "--platform",
    help="Only this platform's statements: sent with a credential bound to it, or by an "
    "actor account of that site.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many verbs, actors or activities to list per reason.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@with_appcontext
def gaps_command(platform: str | None, top: int, output_format: str) -> None:
    """Why stored statements gave no evidence: unknown learners, activities no rule
    maps, statements without a result; what to map or whom to wait for."""
    report = evidence_gaps(db.session, current_app.config["BASE_URL"], top, platform=platform)
    if output_format == "json":
        click.echo(json.dumps(_gap_record(report), ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{report.stored} statement(s) stored (voided and voiding ones left out): "
        f"{report.with_evidence} gave evidence, {report.waiting} wait for derivation, "
        f"{report.without_evidence} gave none."
    )
    if report.underived:
        click.echo(
            f"- {report.underived} would give evidence now but were not derived again: "
            "run `lti-tool evidence rederive`."
        )
    for group in report.groups:
        click.echo(f"- {group.statements} {_GAP_TEXT[group.gap]}:")
        for subject, count in group.subjects:
            click.echo(f"  {count:>8}  {subject}")
        if group.more_subjects:
            click.echo(f"  {'':>8}  and {group.more_subjects} more")


def _gap_record(report: GapReport) -> dict[str, Any]:
    return {
        "stored": report.stored,
        "with_evidence": report.with_evidence,
        "waiting": report.waiting,
        "without_evidence": report.without_evidence,
        "examined": report.examined,
        "underived": report.underived,
        "gaps": [
            {
                "reason": str(group.gap),
                "statements": group.statements,
                "subjects": [{"subject": s, "statements": n} for s, n in group.subjects],
                "more_subjects": group.more_subjects,
            }
            for group in report.groups
        ],
    }
