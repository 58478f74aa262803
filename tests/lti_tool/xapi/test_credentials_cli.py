"""``lti-tool xapi credentials ...``: secrets shown once, stored hashed, revocable."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from xapi_lrs_client import Lrs

from lti_tool.cli import main
from lti_tool.database import db
from xapi.models import Credential


def test_create_prints_key_and_secret_once_as_json(runner: FlaskCliRunner, app: Flask) -> None:
    result = runner.invoke(main, ["xapi", "credentials", "create", "--name", "H5P", "--json"])
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert set(issued) == {"key", "secret"}
    with app.app_context():
        row = db.session.scalar(select(Credential).where(Credential.key == issued["key"]))
        assert row is not None and row.name == "H5P" and row.platform_issuer is None
        # Only a salted keyed hash is kept.
        assert issued["secret"] not in row.secret_hash
        assert row.secret_hash.startswith("hmac-sha256$")


def test_created_credential_authenticates_on_the_statements_resource(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    result = runner.invoke(main, ["xapi", "credentials", "create", "--name", "Moodle", "--json"])
    issued = json.loads(result.output)
    assert Lrs(client, issued["key"], issued["secret"]).get().status_code == 200


def test_create_bound_to_a_platform_says_so(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        [
            "xapi",
            "credentials",
            "create",
            "--name",
            "Moodle A",
            "--platform",
            "https://moodle-a.example.org/",
        ],
    )
    assert result.exit_code == 0
    assert "bound to https://moodle-a.example.org" in result.output
    assert "secret:" in result.output


def test_list_never_shows_secrets(runner: FlaskCliRunner) -> None:
    issued = json.loads(
        runner.invoke(main, ["xapi", "credentials", "create", "--name", "cmi5", "--json"]).output
    )
    listing = runner.invoke(main, ["xapi", "credentials", "list"])
    assert issued["key"] in listing.output and "active" in listing.output
    assert issued["secret"] not in listing.output
    rows = json.loads(runner.invoke(main, ["xapi", "credentials", "list", "--json"]).output)
    assert rows[0]["key"] == issued["key"] and rows[0]["revoked"] is None


def test_revoke_marks_the_credential_and_unknown_key_fails_in_one_line(
    runner: FlaskCliRunner,
) -> None:
    issued = json.loads(
        runner.invoke(main, ["xapi", "credentials", "create", "--name", "x", "--json"]).output
    )
    result = runner.invoke(main, ["xapi", "credentials", "revoke", issued["key"]])
    assert result.exit_code == 0 and "Revoked" in result.output
    assert "revoked" in runner.invoke(main, ["xapi", "credentials", "list"]).output
    missing = runner.invoke(main, ["xapi", "credentials", "revoke", "nope"])
    assert missing.exit_code == 1
    assert missing.output.strip() == "Error: no xAPI credential with key 'nope'"
