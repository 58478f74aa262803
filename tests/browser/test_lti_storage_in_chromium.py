"""A launch inside a course page on another site, in Chromium: the tool's state cookie
does not come back to its frame, and the launch completes through the platform's
storage (LTI Client Side postMessages), with the real platform-storage.js."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import launched_chromium, screenshot
from tests.lms.fixtures import LiveTool, load_builtin_referentiel, register_platform
from tests.lms.platform import TestPlatform

pytestmark = pytest.mark.browser

# The frame goes from the tool's site to the platform's and back: with site isolation
# Chromium moves it into another renderer process each time, and on a loaded machine
# Playwright sometimes misses that swap and keeps watching the platform's page
# (its frame tree stuck at /auth while the tool's page is long shown). One process
# for all sites keeps the frame where Playwright sees it; cookies and postMessage
# origins, what this test is about, follow the same rules either way.
SINGLE_PROCESS_SITES = ["--disable-site-isolation-trials", "--disable-features=site-per-process"]


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    yield from launched_chromium(playwright, *SINGLE_PROCESS_SITES)


@pytest.fixture
def cross_site_lms(live_tool: LiveTool) -> Iterator[TestPlatform]:
    """The LMS at http://localhost:PORT, the tool at http://127.0.0.1:PORT: two sites."""
    platform = TestPlatform(live_tool.url, public_host="localhost").start()
    register_platform(live_tool.app, platform)
    load_builtin_referentiel(live_tool.app)
    yield platform
    platform.stop()


def test_launch_in_a_cross_site_frame_completes_through_platform_storage(
    live_tool: LiveTool, cross_site_lms: TestPlatform, page: Any
) -> None:
    lms = cross_site_lms
    hint = lms.prepare(lms.claims("learner", user="31", name="Nina Frame"))
    login = f"{live_tool.url}/lti/login?" + urlencode(
        lms.login_parameters(hint, storage_target="_parent")
    )
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{lms.url}/course?" + urlencode({"src": login}))
    frame = page.frame_locator("#tool")
    # Four navigations and two postMessage round trips through the platform's frame:
    # more than the default 10 s on a loaded CI machine (seen once).
    frame.locator("h1").wait_for(timeout=30_000)
    assert frame.locator("h1").inner_text() == "Ma progression"
    stored = page.evaluate("Object.keys(window.ltiStorage)")
    assert any(" state_state-" in key for key in stored)  # state put in the platform's storage
    assert any(" nonce_" in key for key in stored)
    # No cookie came back to the frame: the launch went through the completion step.
    assert f"{live_tool.url}/lti/launch/complete" in requested
    tool_frame = next(f for f in page.frames if f.url.startswith(live_tool.url))
    assert "/learner/" in tool_frame.url and "lt=" in tool_frame.url
    screenshot(page, "launch-through-platform-storage")
