"""Fixtures: the tool served over HTTP on loopback, the test LMS, and the launch flow.

Imported by tests/conftest.py. The pages' browser
tests use the same ``live_tool`` + ``lms`` + ``launch_flow``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import create_app
from lti_tool.database import db
from lti_tool.platforms import save_platform
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
from tests.lms.flow import LaunchFlow
from tests.lms.platform import ServerThread, TestPlatform


class LiveTool:
    """The tool's WSGI app on a loopback port; ``url`` is also its BASE_URL."""

    def __init__(self, app_factory: Any) -> None:
        holder: dict[str, Flask] = {}
        self._server = ServerThread(lambda environ, start: holder["app"](environ, start))
        self.url = self._server.url
        self.app = app_factory(self.url)
        holder["app"] = self.app
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        self.app.extensions["database"]["engine"].dispose()


@pytest.fixture
def live_tool(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveTool]:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path / "live-instance"))

    def factory(url: str) -> Flask:
        return create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "BASE_URL": url,
                "SECRET_KEY": "live-test-secret",
            }
        )

    tool = LiveTool(factory)
    yield tool
    tool.stop()


def register_platform(app: Flask, platform: TestPlatform) -> None:
    with app.app_context():
        save_platform(db.session, **platform.registration())
        db.session.commit()


def load_builtin_referentiel(app: Flask) -> None:
    with app.app_context():
        load_document(db.session, read_builtin("diplovis-bgdc"), origin="tests")
        db.session.commit()


@pytest.fixture
def lms(live_tool: LiveTool) -> Iterator[TestPlatform]:
    """A test LMS registered with the live tool, which holds the built-in référentiel."""
    platform = TestPlatform(live_tool.url).start()
    register_platform(live_tool.app, platform)
    load_builtin_referentiel(live_tool.app)
    yield platform
    platform.stop()


@pytest.fixture
def launch_flow(lms: TestPlatform, live_tool: LiveTool) -> LaunchFlow:
    return LaunchFlow(lms, live_tool.url)
