"""CSRF bound to the launch (works without cookies), and the message catalogues."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_wtf.csrf import generate_csrf

from lti_tool.access import require_launch
from tests.lti_tool.pages_world import World, launch_for, token_for

ROOT = Path(__file__).resolve().parents[2]
FR = ROOT / "lti_tool" / "translations" / "fr" / "LC_MESSAGES"


@pytest.fixture
def form_app(app: Flask) -> Flask:
    """The app with a page that renders a form token and a view the form posts to."""

    @app.get("/test-form")
    @require_launch("learner", "instructor")
    def form_page() -> str:
        return str(generate_csrf())

    @app.post("/test-form")
    @require_launch("learner", "instructor")
    def form_post() -> str:
        return "accepted"

    return app


def test_form_without_csrf_token_is_rejected(form_app: Flask, world: World) -> None:
    client = form_app.test_client(use_cookies=False)
    lt = token_for(form_app, launch_for(world.alice, world.course_a, world.link_a, "learner"))
    answer = client.post("/test-form", data={"lt": lt})
    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)


def test_form_with_its_launch_token_and_csrf_token_passes_without_any_cookie(
    form_app: Flask, world: World
) -> None:
    client = form_app.test_client(use_cookies=False)
    lt = token_for(form_app, launch_for(world.alice, world.course_a, world.link_a, "learner"))
    csrf_token = client.get("/test-form", query_string={"lt": lt}).get_data(as_text=True)
    answer = client.post("/test-form", data={"lt": lt, "csrf_token": csrf_token})
    assert answer.status_code == 200 and answer.data == b"accepted"


def test_csrf_token_of_another_launch_is_rejected(form_app: Flask, world: World) -> None:
    client = form_app.test_client(use_cookies=False)
    bob = token_for(form_app, launch_for(world.bob, world.course_a, world.link_a, "learner"))
    alice = token_for(form_app, launch_for(world.alice, world.course_a, world.link_a, "learner"))
    bobs_csrf = client.get("/test-form", query_string={"lt": bob}).get_data(as_text=True)
    answer = client.post("/test-form", data={"lt": alice, "csrf_token": bobs_csrf})
    assert answer.status_code == 400


def _messages(path: Path) -> dict[str, tuple[str, ...]]:
    """msgid (first form) → its translations, from a .po or a .mo file."""
    reader = read_mo if path.suffix == ".mo" else read_po
    with path.open("rb") as handle:
        catalogue = reader(handle)
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): (
            (m.string,) if isinstance(m.string, str) else tuple(m.string)
        )
        for m in catalogue
        if m.id
    }


def test_every_ui_message_has_a_french_translation() -> None:
    untranslated = [k for k, v in _messages(FR / "messages.po").items() if not all(v)]
    assert untranslated == []


def test_catalogue_holds_every_message_of_the_sources() -> None:
    """A text added to a template or view without running scripts/translations fails here."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    wanted = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, options_map, keywords)
    }
    missing = wanted - set(_messages(FR / "messages.po"))
    assert sorted(missing) == []


def test_compiled_catalogue_matches_its_source() -> None:
    assert _messages(FR / "messages.mo") == _messages(FR / "messages.po")
