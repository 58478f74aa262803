"""``lti-tool keys ...`` and ``lti-tool platform ...``, and the published key set."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import keys
from lti_tool.cli import main
from lti_tool.models.platform import Platform

ADD = [
    "platform",
    "add",
    "--issuer",
    "https://moodle.example.org",
    "--client-id",
    "abc123",
    "--auth-login-url",
    "https://moodle.example.org/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.example.org/mod/lti/token.php",
    "--key-set-url",
    "https://moodle.example.org/mod/lti/certs.php",
    "--deployment-id",
    "1",
    "--deployment-id",
    "2",
    "--name",
    "Moodle",
]


def invoke(runner: FlaskCliRunner, args: list[str]):  # type: ignore[no-untyped-def]
    return runner.invoke(main, args)


def test_keys_rotate_then_list_shows_signing_and_published_keys(runner: FlaskCliRunner) -> None:
    first = invoke(runner, ["keys", "list"])
    assert first.exit_code == 0 and "signing" in first.output
    rotated = invoke(runner, ["keys", "rotate"])
    assert rotated.exit_code == 0 and "New signing key" in rotated.output
    listed = invoke(runner, ["keys", "list"]).output.splitlines()
    assert [line.split()[1] for line in listed] == ["signing", "published"]


def test_keys_retire_stops_publishing_the_key(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    old = keys.signing_key(session)
    session.commit()
    invoke(runner, ["keys", "rotate"])
    result = invoke(runner, ["keys", "retire", old.kid])
    assert result.exit_code == 0, result.output
    published = client.get("/lti/jwks").get_json()["keys"]
    assert old.kid not in [k["kid"] for k in published] and len(published) == 1


def test_keys_retire_refuses_the_only_key_and_unknown_kids(
    runner: FlaskCliRunner, session: Session
) -> None:
    only = keys.signing_key(session)
    session.commit()
    refused = invoke(runner, ["keys", "retire", only.kid])
    assert refused.exit_code == 1 and "only published key" in refused.output
    unknown = invoke(runner, ["keys", "retire", "nope"])
    assert unknown.exit_code == 1 and "No published key" in unknown.output


def test_jwks_is_published_at_both_addresses_without_private_parts(client: FlaskClient) -> None:
    one = client.get("/lti/jwks").get_json()
    two = client.get("/.well-known/jwks.json").get_json()
    assert one == two and len(one["keys"]) == 1
    key = one["keys"][0]
    assert {key["kty"], key["alg"], key["use"]} == {"RSA", "RS256", "sig"} and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_platform_add_list_remove(runner: FlaskCliRunner, app: Flask) -> None:
    added = invoke(runner, ADD)
    assert added.exit_code == 0 and "Registered https://moodle.example.org" in added.output
    listed = invoke(runner, ["platform", "list"]).output
    assert "client=abc123" in listed and "deployments=1,2" in listed and "active" in listed
    removed = invoke(runner, ["platform", "remove", "https://moodle.example.org"])
    assert removed.exit_code == 0 and "Removed" in removed.output
    assert "No platform registered." in invoke(runner, ["platform", "list"]).output


def test_platform_add_again_updates_and_adds_deployments(
    runner: FlaskCliRunner, session: Session
) -> None:
    invoke(runner, ADD)
    again = invoke(runner, [*ADD[:-4], "--deployment-id", "3"])
    assert again.exit_code == 0 and "Updated" in again.output
    platform = session.scalar(select(Platform))
    assert platform is not None
    assert sorted(d.deployment_id for d in platform.deployments) == ["1", "2", "3"]


def test_several_client_ids_per_issuer_need_client_id_to_remove(runner: FlaskCliRunner) -> None:
    invoke(runner, ADD)
    second = [*ADD]
    second[second.index("abc123")] = "def456"
    assert invoke(runner, second).exit_code == 0
    ambiguous = invoke(runner, ["platform", "remove", "https://moodle.example.org"])
    assert ambiguous.exit_code == 1 and "give --client-id" in ambiguous.output
    precise = ["platform", "remove", "https://moodle.example.org", "--client-id", "def456"]
    assert invoke(runner, precise).exit_code == 0
    assert "def456" not in invoke(runner, ["platform", "list"]).output


def test_platform_add_refuses_a_bad_url_in_one_line(runner: FlaskCliRunner) -> None:
    bad = [*ADD]
    bad[bad.index("https://moodle.example.org/mod/lti/certs.php")] = "certs.php"
    result = invoke(runner, bad)
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: The key set URL must be an http(s) URL")


@pytest.mark.parametrize("option", ["--issuer", "--client-id", "--name", "--deployment-id"])
def test_platform_add_refuses_a_value_longer_than_kept(
    runner: FlaskCliRunner, app: Flask, option: str
) -> None:
    long = [*ADD]
    value = long[long.index(option) + 1]
    long[long.index(option) + 1] = value + "x" * (256 - len(value))
    result = invoke(runner, long)
    assert result.exit_code == 1 and "is at most 255 characters" in result.output
    assert "No platform" in invoke(runner, ["platform", "list"]).output


def test_platform_deactivate_then_activate(runner: FlaskCliRunner) -> None:
    invoke(runner, ADD)
    invoke(runner, ["platform", "deactivate", "https://moodle.example.org"])
    assert "pending" in invoke(runner, ["platform", "list"]).output
    result = invoke(runner, ["platform", "activate", "https://moodle.example.org"])
    assert result.exit_code == 0 and "Activated" in result.output
