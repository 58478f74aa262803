"""The application factory, configuration, health endpoints and migrations."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import inspect

from lti_tool import create_app, migrate
from lti_tool.cli import main
from lti_tool.database import db, make_engine


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "https://competences.example.org/")
    app = create_app()
    assert app.config["BASE_URL"] == "https://competences.example.org"
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'lti_tool.sqlite3'}"


def test_test_mapping_overrides_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LTI_TOOL_BASE_URL", "https://from-env.example.org")
    app = create_app({"BASE_URL": "https://from-test.example.org"})
    assert app.config["BASE_URL"] == "https://from-test.example.org"


def test_secret_key_generated_once_and_kept_owner_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("LTI_TOOL_SECRET_KEY", raising=False)
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_heartbeat_and_database_readiness(client: FlaskClient) -> None:
    assert client.get("/__heartbeat__").json == {"status": "ok"}
    assert client.get("/__lbheartbeat__").json == {"status": "ok"}


def test_unknown_page_answers_html_to_people_and_json_to_clients(client: FlaskClient) -> None:
    page = client.get("/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404 and b"<h1>404</h1>" in page.data
    api = client.get("/nowhere", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json["status"] == 404


def test_models_and_migrations_agree(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        migrate.check(db.engine)


def test_db_upgrade_builds_an_empty_database_from_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    result = app.test_cli_runner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "newest schema" in result.output
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"framework", "bloc", "competency", "platform", "lti_user", "evidence"} <= tables


def test_db_upgrade_is_idempotent(runner: FlaskCliRunner) -> None:
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
