from __future__ import annotations

import pytest
from flask import Flask

from lti_tool.database import db
from tests.lti_tool.pages_world import World, build_world


@pytest.fixture
def world(app: Flask) -> World:
    """The page-test world, committed; built in its own app context so that requests
    made by the test client get a fresh ``g`` each, as in production."""
    with app.app_context():
        return build_world(db.session)
