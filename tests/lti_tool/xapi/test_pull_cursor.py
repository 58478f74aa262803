"""The pull cursor with remotes that bend the spec (Ralph 5.1's file backend returns
pages newest first and filters ``since`` on timestamp)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask

from lti_tool.database import db
from xapi.models import PullSource
from xapi.pull import pull


def statement(stored: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:ada.martin@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://content.example.org/page"},
        "stored": stored,
        "timestamp": "2026-01-01T00:00:00Z",
        "authority": {"mbox": "mailto:lrs@example.org"},
    }


class NewestFirstSource:
    """Two pages, the newest statements first, whatever ``ascending`` says."""

    def __init__(self) -> None:
        self.pages = [
            [statement("2026-03-02T10:00:02.000Z"), statement("2026-03-02T10:00:01.000Z")],
            [statement("2026-03-02T09:00:00.000Z")],
        ]
        self.asked: list[dict[str, str]] = []

    def first_page(self, params: dict[str, str]) -> str:
        self.asked.append(params)
        return json.dumps({"statements": self.pages[0], "more": "/xAPI/statements?page=2"})

    def next_page(self, more: str) -> str:
        return json.dumps({"statements": self.pages[1], "more": ""})


def test_cursor_only_moves_forward_and_from_start_rereads(app: Flask) -> None:
    source = NewestFirstSource()
    with app.app_context():
        report = pull(db.session, source, "https://ralph.example.org/xAPI/", "k")
        assert report.stored == 3
        cursor = db.session.query(PullSource).one()
        assert cursor.since == "2026-03-02T10:00:01.999Z"
        again = pull(db.session, source, "https://ralph.example.org/xAPI/", "k")
        assert again.stored == 0 and again.skipped_identical == 3
        assert source.asked[1]["since"] == "2026-03-02T10:00:01.999Z"
        pull(db.session, source, "https://ralph.example.org/xAPI/", "k", from_start=True)
        assert "since" not in source.asked[2]
