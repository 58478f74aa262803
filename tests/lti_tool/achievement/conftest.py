"""The ``world`` fixture: a course on the DIPLOVIS référentiel (see achievement_world.py)."""

from __future__ import annotations

import pytest
from achievement_world import World, make_world
from sqlalchemy.orm import Session


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)
