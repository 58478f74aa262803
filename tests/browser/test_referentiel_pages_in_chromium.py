"""The référentiel's IRIs in a real browser: navigation by the breadcrumb and links, axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from lti_tool.database import db
from referentiel.data_file import read_builtin
from referentiel.loading import load_document
from tests.browser.conftest import (
    LiveServer,
    assert_no_serious_accessibility_violation,
    screenshot,
)

pytestmark = pytest.mark.browser


def test_framework_bloc_and_competency_pages_navigate_and_pass_axe(
    app: Flask, live_server: LiveServer, page: Any
) -> None:
    with app.app_context():
        load_document(db.session, read_builtin("diplovis-bgdc"))
        db.session.commit()
    page.goto(f"{live_server.url}/referentiels/diplovis-bgdc")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text().startswith("DIPLOVIS - Bachelor")
    screenshot(page, "referentiel-framework")
    assert_no_serious_accessibility_violation(page)

    page.get_by_role("link", name="Bloc 7a", exact=False).click()
    assert page.locator("h1").inner_text().startswith("Bloc 7a : Management fonctionnel")
    assert page.get_by_role("heading", name="Critères d’évaluation").is_visible()
    screenshot(page, "referentiel-bloc-7a")
    assert_no_serious_accessibility_violation(page)

    page.get_by_role("link", name="C14", exact=True).click()
    assert page.locator("h1").inner_text() == "Compétence C14"
    assert "Superviser la conformité de l’UO" in page.locator(".statement").inner_text()
    assert_no_serious_accessibility_violation(page)

    page.get_by_role("navigation", name="Fil d’Ariane").get_by_role("link", name="Bloc 7a").click()
    assert page.url.endswith("/referentiels/diplovis-bgdc/bloc-7a")
