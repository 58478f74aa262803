"""Time the full LTI 1.3 round trip against a running tool: login → platform
authorization → launch (id_token validated, user/context/membership recorded) → page.

A small platform (tests/lms/platform.py) runs in this process on loopback and
registers itself with the tool by LTI Dynamic Registration, so the tool needs no
setup beyond running:

    lti-tool serve --port 8000 &
    .venv/bin/python bench/lti_launch.py --tool-url http://127.0.0.1:8000 -n 200

``--spawn`` starts a throw-away `lti-tool serve` instead (SQLite in a temporary
folder, or LTI_TOOL_DATABASE_URL when set). Prints the median and 95th percentile,
in milliseconds, of the login + launch round trip and of the trip with the page.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lms.flow import LaunchFlow  # noqa: E402
from tests.lms.platform import TestPlatform  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spawn_tool(folder: str) -> tuple[str, subprocess.Popen[bytes]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LTI_TOOL_INSTANCE_PATH": folder,
        "LTI_TOOL_BASE_URL": url,
        "LTI_TOOL_LOG_LEVEL": "WARNING",
    }
    lti_tool = str(Path(sys.executable).parent / "lti-tool")
    for step in (["db", "upgrade"], ["referentiel", "load", "diplovis-bgdc"]):
        subprocess.run([lti_tool, *step], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [lti_tool, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if requests.get(f"{url}/__heartbeat__", timeout=1).ok:
                return url, process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the spawned tool did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description="LTI login + launch round trip timing")
    parser.add_argument("--tool-url", default="http://127.0.0.1:8000")
    parser.add_argument("-n", "--launches", type=int, default=100)
    parser.add_argument("--spawn", action="store_true", help="start a throw-away tool")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the platform's access log

    process = None
    folder = tempfile.mkdtemp(prefix="lti-bench-")
    tool_url = args.tool_url.rstrip("/")
    if args.spawn:
        tool_url, process = spawn_tool(folder)
    platform = TestPlatform(tool_url).start()
    try:
        page = requests.get(
            platform.registration_start_url(platform.new_registration_token()), timeout=30
        )
        if page.status_code != 200:
            raise SystemExit(f"dynamic registration failed: HTTP {page.status_code}")
        assert platform.last_client_id is not None
        platform.client_id, platform.deployment_id = platform.last_client_id, "1"
        flow = LaunchFlow(platform, tool_url)
        flow.launch("learner")  # warm-up (first key set fetch, first user)
        round_trips: list[float] = []
        with_page: list[float] = []
        for i in range(args.launches):
            browser = requests.Session()
            claims = platform.claims("learner", user=str(1000 + i % 50))
            started = time.perf_counter()
            login = flow.start_login(claims, browser=browser)
            action, fields = flow.authorize(login)
            launched = browser.post(action, data=fields, allow_redirects=False, timeout=30)
            round_trips.append((time.perf_counter() - started) * 1000)
            if launched.status_code != 303:
                raise SystemExit(f"launch {i} failed: HTTP {launched.status_code}")
            landing = browser.get(tool_url + launched.headers["Location"], timeout=30)
            with_page.append((time.perf_counter() - started) * 1000)
            if landing.status_code != 200:
                raise SystemExit(f"landing page {i} failed: HTTP {landing.status_code}")
    finally:
        platform.stop()
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
    print(f"tool {tool_url}, {args.launches} launches")
    for label, values in (("login + launch", round_trips), ("with landing page", with_page)):
        print(
            f"{label:18}: median {statistics.median(values):7.1f} ms   "
            f"p95 {percentile(values, 0.95):7.1f} ms"
        )


if __name__ == "__main__":
    main()
