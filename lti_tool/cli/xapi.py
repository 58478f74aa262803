"""``lti-tool xapi ...``: the xAPI intake: credentials of activity providers, mapping
rules, and pulling from another LRS."""

from __future__ import annotations

import json
import sys
from time import sleep

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.cli.arguments import ROW_ID
from lti_tool.database import db
from xapi import credentials as xapi_credentials
from xapi import mapping_rules
from xapi.pull import MIN_INTERVAL, RemoteLrsSource, check_interval, pull


@click.group("xapi")
def xapi_group() -> None:
    """xAPI intake: credentials, which activities count for which competencies, pulling."""


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
@click.argument("rule_id", type=ROW_ID)
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


@xapi_group.group("credentials")
def credentials_group() -> None:
    """HTTP Basic key and secret of each activity provider."""


@credentials_group.command("create")
@click.option("--name", required=True, help="Who uses it (e.g. 'Moodle log store').")
@click.option(
    "--platform",
    "platform_issuer",
    default=None,
    help="Bind to a platform issuer: statements for other platforms' users are refused.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"key": ..., "secret": ...}.')
@with_appcontext
def create_command(name: str, platform_issuer: str | None, as_json: bool) -> None:
    """Create a credential and print its key and secret (the secret is shown only once)."""
    if not name.strip():
        raise click.UsageError("--name must not be empty")
    issued = xapi_credentials.create_credential(db.session, name, platform_issuer)
    key = issued.credential.key
    # The secret is written out before the credential is committed: if it cannot be
    # shown (a full disk, a closed pipe), no credential is left whose secret nobody has.
    if as_json:
        click.echo(json.dumps({"key": key, "secret": issued.secret}))
    else:
        bound = f", bound to {issued.credential.platform_issuer}" if platform_issuer else ""
        click.echo(f"Created xAPI credential {name!r}{bound}.")
        click.echo(f"  key:    {key}")
        click.echo(f"  secret: {issued.secret}  (shown once: store it now)")
    sys.stdout.flush()
    db.session.commit()


@credentials_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """List credentials (never their secrets)."""
    rows = [
        {
            "key": c.key,
            "name": c.name,
            "platform": c.platform_issuer,
            "created": c.created_at.isoformat(),
            "revoked": c.revoked_at.isoformat() if c.revoked_at else None,
        }
        for c in xapi_credentials.list_credentials(db.session)
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("No xAPI credential yet.")
    for row in rows:
        state = f"revoked {row['revoked']}" if row["revoked"] else "active"
        platform = row["platform"] or "any platform"
        click.echo(f"{row['key']}  {row['name']}  ({platform}; {state})")


@credentials_group.command("revoke")
@click.argument("key")
@with_appcontext
def revoke_command(key: str) -> None:
    """Revoke a credential: its requests get 401 from now on."""
    credential, was_active = xapi_credentials.revoke_credential(db.session, key)
    db.session.commit()
    if was_active:
        click.echo(f"Revoked xAPI credential {credential.key} ({credential.name}).")
    else:
        click.echo(f"xAPI credential {credential.key} ({credential.name}) was already revoked.")


@xapi_group.command("pull")
@click.option("--endpoint", required=True, help="The remote LRS's xAPI endpoint (…/xAPI/).")
@click.option("--key", required=True, help="HTTP Basic user of the remote LRS.")
@click.option(
    "--secret",
    required=True,
    envvar="LTI_TOOL_XAPI_PULL_SECRET",
    help="HTTP Basic password (or set LTI_TOOL_XAPI_PULL_SECRET, kept out of `ps`).",
)
@click.option("--follow", is_flag=True, help="Keep polling for new statements.")
@click.option(
    "--interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(MIN_INTERVAL, 86400),
    help="Seconds between polls.",
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="HTTP timeout.",
)
@click.option(
    "--from-start",
    is_flag=True,
    help="Read the remote from its first statement again, those already here skipped "
    "(done without asking when the remote's 'since' does not resume where the last run "
    "stopped, as Ralph's, which filters on timestamp).",
)
@with_appcontext
def pull_command(
    endpoint: str,
    key: str,
    secret: str,
    follow: bool,
    interval: float,
    timeout: float,
    from_start: bool,
) -> None:
    """Take the statements of another LRS, resuming where the last run stopped.

    Statements already here are skipped when identical and reported when they differ.
    """
    remote = RemoteLrsSource(endpoint, key, secret, timeout=timeout)
    check_interval(interval)  # NaN passes click's FloatRange
    while True:
        report = pull(db.session, remote, endpoint, key, from_start=from_start)
        click.echo(
            f"Pulled {report.stored} new statement(s) from {endpoint} in {report.pages} "
            f"page(s); {report.skipped_identical} already here, "
            f"{len(report.conflicts)} conflict(s), {len(report.rejected)} rejected."
        )
        if report.from_start:
            click.echo(
                "  read from the start: the remote's 'since' did not resume where the last "
                "run stopped (it filters on something else than 'stored')"
            )
        for ident in report.conflicts:
            click.echo(f"  conflict: statement {ident} is stored here with other content")
        for reason in report.rejected:
            click.echo(f"  rejected: {reason}")
        if not follow:
            return
        sleep(interval)
