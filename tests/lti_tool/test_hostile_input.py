"""Malformed input from a signed-in user never gets a server error: every form and page
of the trainer, admin and learner answers 4xx (or its normal answer), whatever the
values, and the answer shows no stack trace."""

from __future__ import annotations

import itertools
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.lti_tool.pages_world import World, launch_for, token_for

ODD_VALUES = ["", "0", "-1", "99999999999999999999", "x", "é\u0000", "<script>", "1.5", "a" * 5000]
ODD_QUERIES = ["sep=semicolon", "notice=%ff", "lang=zz", "bloc=%00", "lt=garbage"]


def _signed_in(app: Flask, world: World, role: str) -> tuple[FlaskClient, str, str]:
    user = {"instructor": world.tom, "admin": world.admin, "learner": world.alice}[role]
    client = app.test_client(use_cookies=False)
    lt = token_for(app, launch_for(user, world.course_a, world.link_a, role))
    home = {"instructor": "/trainer/", "admin": "/admin/", "learner": "/learner/"}[role]
    html = client.get(home, query_string={"lt": lt}).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return client, lt, found.group(1) if found else ""


def _sound(answer_status: int, body: bytes) -> bool:
    return answer_status < 500 and b"Traceback" not in body


@pytest.mark.parametrize(
    ("role", "path", "fields"),
    [
        ("instructor", "/trainer/learners/{alice}/signoff", ["bloc", "decision", "comment"]),
        ("instructor", "/trainer/learners/{alice}/override", ["competency", "state", "reason"]),
        ("instructor", "/trainer/learners/{alice}/track", ["bloc"]),
        ("instructor", "/trainer/gradebook/{big}/retry", []),
        ("admin", "/admin/referentiels", ["builtin"]),
        ("admin", "/admin/mapping-rules", ["activity", "competency", "prefix"]),
        ("admin", "/admin/mapping-rules/{big}/remove", []),
        ("admin", "/admin/credentials", ["name"]),
        ("admin", "/admin/credentials/{odd}/revoke", []),
        ("admin", "/admin/outbox/retry", ["all", "outbox_id"]),
    ],
)
def test_forms_answer_odd_values_without_a_server_error(
    app: Flask, world: World, role: str, path: str, fields: list[str]
) -> None:
    client, lt, csrf = _signed_in(app, world, role)
    assert csrf, "the page carries its CSRF token"
    url = path.format(alice=world.alice.id, big=2**40, odd="%ff")
    combinations = [dict.fromkeys(fields, value) for value in ODD_VALUES] or [{}]
    for data in combinations:
        answer = client.post(url, data={"lt": lt, "csrf_token": csrf, **data})
        assert _sound(answer.status_code, answer.data), (url, data, answer.status_code)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("instructor", "/trainer/"),
        ("instructor", "/trainer/learners/{alice}"),
        ("instructor", "/trainer/learners/{big}"),
        ("instructor", "/trainer/export.csv"),
        ("instructor", "/trainer/export.xlsx"),
        ("admin", "/admin/"),
        ("learner", "/learner/"),
        ("learner", "/learner/my-data.json"),
    ],
)
def test_pages_answer_odd_queries_without_a_server_error(
    app: Flask, world: World, role: str, path: str
) -> None:
    client, lt, _ = _signed_in(app, world, role)
    url = path.format(alice=world.alice.id, big=2**40)
    for query, extra in itertools.product(ODD_QUERIES, ["", "&notice=x&sep=tab"]):
        answer = client.get(f"{url}?lt={lt}&{query}{extra}")
        assert _sound(answer.status_code, answer.data), (url, query, answer.status_code)


def test_a_nul_character_or_an_id_beyond_32_bits_is_refused_at_the_door(
    app: Flask, world: World
) -> None:
    """Refused alike on SQLite and PostgreSQL (whose text cannot hold NUL, whose keys are
    32-bit), before any view runs."""
    client, lt, csrf = _signed_in(app, world, "instructor")
    answer = client.get(f"/trainer/?lt={lt}&notice=%00")
    assert answer.status_code == 400 and b"NUL character" in answer.data
    answer = client.post(
        f"/trainer/learners/{world.alice.id}/track",
        data={"lt": lt, "csrf_token": csrf, "bloc": "bloc-7\x00"},
    )
    assert answer.status_code == 400 and b"NUL character" in answer.data
    assert client.get(f"/trainer/learners/{2**31}?lt={lt}").status_code == 404
