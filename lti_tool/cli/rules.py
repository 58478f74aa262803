"""``lti-tool rules ...``: the mastery rules in force per framework, and new versions of them."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from lti_tool.achievement import recompute, rules
from lti_tool.database import db
from referentiel.achievement import InvalidRule
from referentiel.exceptions import ReferentielNotFound
from referentiel.lookup import framework_by_key
from referentiel.models import Framework


def _framework(key: str) -> Framework:
    framework = framework_by_key(db.session, key)
    if framework is None:
        raise ReferentielNotFound(f"no framework {key!r} loaded")
    return framework


@click.group("rules")
def rules_group() -> None:
    """Mastery rules per framework (versioned; every change is audited)."""


@rules_group.command("show")
@click.option("--framework", "framework_key", required=True, help="Framework key.")
@with_appcontext
def show_command(framework_key: str) -> None:
    """Print the rules in force, their version and what they say in words."""
    framework = _framework(framework_key)
    setting, version = rules.rules_in_force(db.session, framework.id)
    click.echo(
        f"# {framework.key}: rules version {version}" + (" (built-in)" if not version else "")
    )
    click.echo(f"# default: {setting.default.describe()}")
    for bloc_key in setting.blocs:
        competency = next(
            (c for b in framework.blocs if b.key == bloc_key for c in b.competencies), None
        )
        code = competency.code if competency else "C1"
        click.echo(f"# {bloc_key}: {setting.rule_for(bloc_key, code).describe()}")
    for key in setting.competencies:
        bloc_key, code = key.split("/", 1)
        click.echo(f"# {key}: {setting.rule_for(bloc_key, code).describe()}")
    click.echo(json.dumps(setting.to_dict(), indent=2, ensure_ascii=False))


@rules_group.command("set")
@click.option("--framework", "framework_key", required=True, help="Framework key.")
@click.option("--reason", required=True, help="Why the rules change (kept in the audit trail).")
@click.argument("rules_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def set_command(framework_key: str, reason: str, rules_file: Path) -> None:
    """Make RULES_FILE (JSON: default, blocs, competencies) the new version, and recompute."""
    framework = _framework(framework_key)
    try:
        data = json.loads(rules_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRule(f"{rules_file} is not JSON: {error}") from error
    except ValueError:  # json.loads' other one: an integer of more than 4300 digits
        raise InvalidRule(f"{rules_file}: a number in the JSON is too long to read") from None
    except RecursionError:
        raise InvalidRule(f"{rules_file}: JSON nested too deeply to be rules") from None
    if not isinstance(data, dict):
        raise InvalidRule(f"{rules_file} must hold a JSON object")
    session = db.session
    version = rules.set_rules(session, framework, data, actor="cli", reason=reason)
    learners = recompute.recompute_framework(session, framework.id, cause="rules", actor="cli")
    session.commit()
    click.echo(
        f"Rules of {framework.key} now at version {version.version}; "
        f"{learners} learner(s) recomputed."
    )
