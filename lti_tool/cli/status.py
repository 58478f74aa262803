"""``lti-tool status``: whether the installation runs as it should (:mod:`lti_tool.status`)."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool.database import db
from lti_tool.status import status_checks


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def status_command(as_json: bool) -> None:
    """Check the schema, référentiels, platforms, keys, xAPI intake, evidence derivation,
    workers, gradebook delivery and rate limits; exit 1 when one needs attention (for
    monitors)."""
    checks = status_checks(db.session, db.engine, dict(current_app.config))
    if as_json:
        click.echo(json.dumps([check.record() for check in checks], ensure_ascii=False, indent=2))
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            mark = "ok" if check.ok else "!!"
            click.echo(f"{mark}  {check.name:<{width}}  {check.seen}")
            if check.todo:
                click.echo(f"    {'':<{width}}  → {check.todo}")
    if not all(check.ok for check in checks):
        sys.exit(1)
