"""``lti-tool xapi ...``: the xAPI intake (mapping rules here; credentials and pull
live with the Statements resource)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.database import db
from xapi import mapping_rules


@click.group("xapi")
def xapi_group() -> None:
    """xAPI intake: which activities count for which competencies."""


@xapi_group.group("map")
def map_group() -> None:
    """Mapping rules: an activity id (exact or prefix) counts for competencies."""


@map_group.command("add")
@click.option("--activity", "activity", required=True, help="Activity id (IRI) or prefix.")
@click.option("--prefix", is_flag=True, help="Match every activity id starting with it.")
@click.option(
    "--competency",
    "competencies",
    multiple=True,
    required=True,
    help="Competency IRI, e.g. {BASE}/referentiels/diplovis-bgdc/bloc-2/C10 (repeatable).",
)
@with_appcontext
def map_add_command(activity: str, prefix: bool, competencies: tuple[str, ...]) -> None:
    """Map an activity to one or more competencies and apply it to the statements
    already stored."""
    session = db.session
    try:
        rules, change = mapping_rules.add_rules(
            session,
            activity,
            list(competencies),
            prefix=prefix,
            base_url=current_app.config["BASE_URL"],
            actor="cli",
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    ids = ", ".join(str(rule.id) for rule in rules)
    click.echo(
        f"Mapped {activity}{' (prefix)' if prefix else ''} to {len(rules)} "
        f"competenc{'y' if len(rules) == 1 else 'ies'} (rule {ids}); "
        f"{change.added} evidence added from stored statements."
    )


@map_group.command("list")
@with_appcontext
def map_list_command() -> None:
    """List the mapping rules: id, activity, competency IRI."""
    views = mapping_rules.list_rules(db.session, base_url=current_app.config["BASE_URL"])
    if not views:
        click.echo("No mapping rule (add one with: lti-tool xapi map add).")
        return
    for view in views:
        kind = "prefix" if view.rule.is_prefix else "exact"
        click.echo(f"{view.rule.id}\t{kind}\t{view.rule.activity_iri}\t{view.competency_iri}")


@map_group.command("remove")
@click.argument("rule_id", type=int)
@with_appcontext
def map_remove_command(rule_id: int) -> None:
    """Remove a mapping rule and withdraw the evidence only it produced."""
    session = db.session
    try:
        view, change = mapping_rules.remove_rule(
            session, rule_id, base_url=current_app.config["BASE_URL"], actor="cli"
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    click.echo(
        f"Removed rule {rule_id} ({view.rule.activity_iri} -> {view.competency_iri}); "
        f"{change.withdrawn} evidence withdrawn."
    )
