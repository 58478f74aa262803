"""The whole way in, as in Moodle: the test LMS launches the tool in Chromium.

The browser follows the OIDC login of the tool, the platform's authorization
endpoint (which mints a signed id_token for the role asked) and the launch, then
lands on the page of its role: learner progress, trainer dashboard, administration.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import assert_no_serious_accessibility_violation, screenshot
from tests.lms.fixtures import LiveTool
from tests.lms.platform import TestPlatform

pytestmark = pytest.mark.browser


def launch(page: Any, lms: TestPlatform, tool: LiveTool, **claims: Any) -> None:
    """What Moodle does when someone opens the activity: login initiation to the tool."""
    hint = lms.prepare(lms.claims(**claims))
    page.goto(f"{tool.url}/lti/login?{urlencode(lms.login_parameters(hint))}")
    page.wait_for_load_state()


def test_learner_launch_opens_their_progress(
    live_tool: LiveTool, lms: TestPlatform, page: Any
) -> None:
    launch(page, lms, live_tool, role="learner", user="21", name="Lina Apprenante")
    assert page.locator("h1").inner_text() == "Ma progression"
    assert "DIPLOVIS - Bachelor en gestion" in page.locator("main").inner_text()
    # Every bloc of the référentiel is there, with its progress bar.
    assert page.locator("progress").count() >= 7
    screenshot(page, "launch-learner")
    assert_no_serious_accessibility_violation(page)


def test_trainer_launch_lists_the_class_and_opens_a_learner(
    live_tool: LiveTool, lms: TestPlatform, page: Any
) -> None:
    launch(page, lms, live_tool, role="learner", user="21", name="Lina Apprenante")
    launch(page, lms, live_tool, role="learner", user="22", name="Marc Apprenant")
    launch(page, lms, live_tool, role="instructor", user="90", name="Théo Formateur")
    assert page.locator("h1").inner_text() == "Tableau de bord de la classe"
    matrix = page.get_by_role("table", name="État des compétences de chaque apprenant, par bloc")
    assert matrix.get_by_role("rowheader").count() == 2
    assert matrix.get_by_role("columnheader").count() > 100  # every competency
    screenshot(page, "launch-trainer-dashboard")
    assert_no_serious_accessibility_violation(page)
    page.get_by_label("Bloc", exact=True).select_option("bloc-2")
    page.get_by_role("button", name="Appliquer les filtres").click()
    # Bloc 1 has C1 to C15, bloc 2 C1 to C14: only bloc 2's columns are left.
    assert matrix.get_by_role("columnheader", name="C15", exact=True).count() == 0
    assert matrix.get_by_role("columnheader", name="C14", exact=True).count() == 1
    page.get_by_role("link", name="Marc Apprenant").click()
    assert page.locator("h1").inner_text() == "Marc Apprenant"


def test_admin_launch_opens_the_administration(
    live_tool: LiveTool, lms: TestPlatform, page: Any
) -> None:
    launch(
        page,
        lms,
        live_tool,
        role="admin",
        user="1",
        name="Ada Admin",
    )
    assert page.locator("h1").inner_text() == "Administration"
    assert lms.issuer in page.locator("main").inner_text()
    screenshot(page, "launch-admin")
    assert_no_serious_accessibility_violation(page)


def test_english_launch_gives_english_pages(
    live_tool: LiveTool, lms: TestPlatform, page: Any
) -> None:
    claims = lms.claims(role="learner", user="23")
    claims["https://purl.imsglobal.org/spec/lti/claim/launch_presentation"]["locale"] = "en-GB"
    hint = lms.prepare(claims)
    page.goto(f"{live_tool.url}/lti/login?{urlencode(lms.login_parameters(hint))}")
    assert page.locator("h1").inner_text() == "My progress"
    assert page.locator("html").get_attribute("lang") == "en"
