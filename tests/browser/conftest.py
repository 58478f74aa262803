"""Browser tests: the tool served over real HTTP on loopback, driven by Debian's Chromium.

Playwright for Python drives /usr/bin/chromium (never a downloaded browser). Each
test's screenshots go to test-artifacts/screenshots/; axe-core (shipped inside the
axe-playwright-python package, injected into the page: no network) checks each page.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="/usr/bin/chromium is absent (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


class _ParentPage(http.server.BaseHTTPRequestHandler):
    """A stand-in for the LMS course page: embeds ?src= in an iframe and records the
    frame-resize messages the tool sends."""

    def do_GET(self) -> None:
        src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
        body = f"""<!doctype html><html lang="en"><head><title>Course page</title></head>
<body><h1>Course page</h1>
<iframe id="tool" title="Competencies" src="{src}" width="900" height="200"></iframe>
<script>
window.resizes = [];
window.addEventListener("message", function (e) {{
  if (e.data && e.data.subject === "lti.frameResize") {{
    window.resizes.push(e.data.height);
    document.getElementById("tool").height = e.data.height;
  }}
}});
</script></body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def lms_page_server() -> Iterator[int]:
    """A loopback server for the stand-in course page; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ParentPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def launched_chromium(playwright: Any, *extra_args: str) -> Iterator[Any]:
    """Debian's Chromium with the project's flags (and ``extra_args``), closed after."""
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args]
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    yield from launched_chromium(playwright)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_no_serious_accessibility_violation(page: Any) -> None:
    """axe-core in the page: no violation of impact serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], "\n".join(bad)


@pytest.fixture
def world(app: Flask) -> Any:
    from lti_tool.database import db
    from tests.lti_tool.pages_world import build_world

    with app.app_context():
        return build_world(db.session)
