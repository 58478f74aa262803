"""Fixtures: a course on the DIPLOVIS référentiel (``world``), a loopback AGS platform."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from achievement_world import World, make_world
from lms.ags import AgsServer
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lti_tool.keys import published_jwks


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def ags(database_url: str) -> Iterator[AgsServer]:
    """An AGS platform that checks client assertions against the tool keys in the database."""
    # No pool: a slow request still running after the test must not leave a connection open.
    engine = create_engine(database_url, poolclass=NullPool)

    def jwks() -> dict[str, Any]:
        with Session(engine) as session:
            return published_jwks(session)

    server = AgsServer(client_id="client-abc", jwks=jwks).start()
    yield server
    server.stop()
    engine.dispose()


@pytest.fixture
def lms_world(world: World, ags: AgsServer) -> World:
    """The world's platform and course pointed at the loopback AGS platform."""
    world.platform.auth_token_url = ags.state.token_url
    world.context.ags_lineitems_url = ags.state.lineitems_url
    world.session.flush()
    return world
