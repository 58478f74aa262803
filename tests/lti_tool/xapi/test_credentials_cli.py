"""``lti-tool xapi credentials ...``: secrets shown once, stored hashed, revocable."""

from __future__ import annotations

import json

import pytest
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
    again = runner.invoke(main, ["xapi", "credentials", "revoke", issued["key"]])
    assert again.exit_code == 0 and "was already revoked" in again.output


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--name", "x" * 256], "Error: a credential's name is at most 255 characters"),
        (["--name", "x", "--platform", "moodle"], "Error: the platform must be an issuer URL"),
        (
            ["--name", "x", "--platform", "https://moodle.example.org/" + "p" * 255],
            "Error: a platform issuer is at most 255 characters",
        ),
    ],
)
def test_create_refuses_what_cannot_be_kept_in_one_line(
    runner: FlaskCliRunner, app: Flask, options: list[str], complaint: str
) -> None:
    result = runner.invoke(main, ["xapi", "credentials", "create", *options])
    assert result.exit_code == 1 and result.output.startswith(complaint)
    with app.app_context():
        assert db.session.scalar(select(Credential)) is None


def test_no_credential_is_kept_when_its_secret_could_not_be_shown(
    runner: FlaskCliRunner, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk or a closed pipe at the moment of printing: no orphan credential."""

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lti_tool.cli.xapi.click.echo", full_disk)
    result = runner.invoke(main, ["xapi", "credentials", "create", "--name", "x", "--json"])
    assert result.exit_code == 1
    with app.app_context():
        assert db.session.scalar(select(Credential)) is None
