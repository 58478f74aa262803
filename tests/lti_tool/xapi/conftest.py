"""Fixtures for the LRS over HTTP: a credential and a client that speaks xAPI 1.0.3."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from xapi_lrs_client import Lrs

from lti_tool.database import db
from referentiel.orm import Base
from xapi.credentials import create_credential

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "xapi"


@pytest.fixture
def credential(app: Flask) -> tuple[str, str]:
    with app.app_context():
        issued = create_credential(db.session, "Moodle log store")
        db.session.commit()
        return issued.credential.key, issued.secret


@pytest.fixture
def lrs(client: FlaskClient, credential: tuple[str, str]) -> Lrs:
    return Lrs(client, *credential)


@pytest.fixture
def sample() -> Callable[[str], dict[str, Any]]:
    """A realistic statement by name (tests/data/xapi/NAME.json), a fresh copy each time."""
    cache: dict[str, dict[str, Any]] = {}

    def load(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = json.loads((SAMPLES / f"{name}.json").read_text())
        return copy.deepcopy(cache[name])

    return load


@pytest.fixture
def count_rows(app: Flask) -> Callable[[type[Base]], int]:
    """How many rows a model's table holds, read in an application context of its own."""

    def count(model: type[Base]) -> int:
        with app.app_context():
            return int(db.session.scalar(select(func.count()).select_from(model)) or 0)

    return count
