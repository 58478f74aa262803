"""Launches whatever the browser does with cookies, across processes, and what a
launch lets a user reach afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.cookies import SchemeAwareSessionInterface
from lti_tool.database import db
from lti_tool.models.launch_storage import LaunchStorageEntry
from lti_tool.models.people import LtiUser
from lti_tool.platforms import save_platform
from referentiel.orm import utcnow
from tests.conftest import BASE_URL
from tests.lms.fixtures import load_builtin_referentiel, register_platform
from tests.lms.flow import LaunchFlow, cookieless_session, data_attributes, form_fields
from tests.lms.platform import TestPlatform
from tests.local_servers import free_port, wait_until_up

# -- cookies


def test_cookieless_launch_completes_through_the_platform_storage(
    launch_flow: LaunchFlow,
) -> None:
    page = launch_flow.cookieless_launch("learner")
    assert page.status_code == 200, page.text
    assert "/learner/" in page.url and "lt=" in page.url


def test_cookieless_launch_pages_keep_working_with_the_launch_token(
    launch_flow: LaunchFlow,
) -> None:
    page = launch_flow.cookieless_launch("instructor")
    assert page.status_code == 200 and "/trainer/" in page.url
    token = page.url.split("lt=")[1]
    again = cookieless_session().get(
        f"{launch_flow.tool_url}/trainer/", params={"lt": token}, timeout=10
    )
    assert again.status_code == 200


def test_cookieless_launch_without_platform_storage_is_refused_for_state_mismatch(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    browser = cookieless_session()
    page = launch_flow.launch("learner", browser=browser)
    assert page.status_code == 400 and "state does not match this browser" in page.text


def test_platform_storage_completion_refuses_a_state_the_storage_does_not_hold(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    browser = cookieless_session()
    hint = lms.prepare(lms.claims())
    params = lms.login_parameters(hint, storage_target="_parent")
    login_page = browser.get(f"{launch_flow.tool_url}/lti/login", params=params, timeout=10)
    login = data_attributes(login_page.text, "lti-storage-login")
    _, fields = form_fields(browser.get(login["auth-url"], timeout=10).text)
    complete = browser.post(
        f"{launch_flow.tool_url}/lti/launch/complete",
        json={"id_token": fields["id_token"], "state": fields["state"], "stored_state": None},
        headers={"Origin": launch_flow.tool_url, "Accept": "application/json"},
        timeout=10,
    )
    assert complete.status_code == 400 and "state mismatch" in complete.json()["error"]


def test_platform_storage_completion_refuses_other_origins_and_forms(
    launch_flow: LaunchFlow,
) -> None:
    url = f"{launch_flow.tool_url}/lti/launch/complete"
    body = {"id_token": "x.y.z", "state": "s", "stored_state": "s"}
    cross_site = requests.post(
        url, json=body, headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert cross_site.status_code == 400
    as_form = requests.post(url, data=body, headers={"Origin": launch_flow.tool_url}, timeout=10)
    assert as_form.status_code == 400


@pytest.mark.parametrize("body", ["[1, 2]", '"state"', "[" * 100_000 + "]" * 100_000])
def test_platform_storage_completion_refuses_json_that_is_not_an_object(
    client: FlaskClient, body: str
) -> None:
    answer = client.post(
        "/lti/launch/complete",
        data=body,
        headers={"Origin": BASE_URL, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert "JSON object" in answer.get_data(as_text=True)


def test_platform_storage_completion_refuses_a_state_holding_a_nul(client: FlaskClient) -> None:
    """No state the tool issues holds one; looking it up was a 500 on PostgreSQL."""
    answer = client.post(
        "/lti/launch/complete",
        json={"id_token": "x.y.z", "state": "state-\x00", "stored_state": "state-\x00"},
        headers={"Origin": BASE_URL, "Accept": "application/json"},
    )
    assert answer.status_code == 400 and "state mismatch" in answer.json["error"]


def test_login_inside_a_frame_checks_cookies_before_going_to_the_platform(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    hint = lms.prepare(lms.claims())
    page = requests.get(
        f"{launch_flow.tool_url}/lti/login",
        params=lms.login_parameters(hint),
        headers={"Sec-Fetch-Dest": "iframe"},
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 200
    check = data_attributes(page.text, "lti-cookie-check")
    assert check["auth-url"].startswith(lms.auth_url)
    assert "lti1p3_new_window=1" in check["new-window-url"]
    # The new window is a top-level page: straight on to the platform.
    new_window = requests.get(
        f"{launch_flow.tool_url}{check['new-window-url']}", allow_redirects=False, timeout=10
    )
    assert new_window.status_code == 302 and new_window.headers["Location"].startswith(lms.auth_url)


HTTPS_LOGIN = {
    "iss": "https://lms.test",
    "login_hint": "1",
    "client_id": "c1",
    "target_link_uri": "https://tool.test/lti/launch",
}


def register_https_platform(app: Flask) -> None:
    with app.app_context():
        save_platform(
            db.session,
            issuer="https://lms.test",
            client_id="c1",
            auth_login_url="https://lms.test/auth",
            auth_token_url="https://lms.test/token",
            key_set_url="https://lms.test/jwks",
            deployment_ids=["1"],
        )
        db.session.commit()


def state_cookie(response) -> str:  # type: ignore[no-untyped-def]
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("lti1p3-"))


def test_state_cookie_is_samesite_none_and_secure_over_https(
    app: Flask, client: FlaskClient
) -> None:
    app.config["BASE_URL"] = "https://tool.test"
    register_https_platform(app)
    secure = client.get("/lti/login", query_string=HTTPS_LOGIN, base_url="https://tool.test")
    cookie = state_cookie(secure)
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie
    assert "Secure" not in state_cookie(client.get("/lti/login", query_string=HTTPS_LOGIN))


def test_session_cookie_is_samesite_none_and_secure_over_https_only(app: Flask) -> None:
    interface = SchemeAwareSessionInterface()
    with app.test_request_context(base_url="https://tool.test"):
        assert interface.get_cookie_samesite(app) == "None" and interface.get_cookie_secure(app)
    with app.test_request_context(base_url="http://tool.test"):
        assert interface.get_cookie_samesite(app) == "Lax"
        assert not interface.get_cookie_secure(app)


def test_forwarded_https_behind_a_trusted_proxy_makes_cookies_secure(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "x",
            "TRUSTED_PROXIES": 1,
            "BASE_URL": "https://tool.test",
        }
    )
    register_https_platform(app)
    response = app.test_client().get(
        "/lti/login", query_string=HTTPS_LOGIN, headers={"X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 302
    assert "Secure" in state_cookie(response) and "SameSite=None" in state_cookie(response)
    app.extensions["database"]["engine"].dispose()


# -- several processes


@pytest.fixture
def two_tool_processes(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two `lti-tool serve` processes on one database, as two workers behind a balancer."""
    ports = [free_port(), free_port()]
    base = f"http://127.0.0.1:{ports[0]}"
    env = {
        **os.environ,
        "LTI_TOOL_DATABASE_URL": database_url,
        "LTI_TOOL_BASE_URL": base,
        "LTI_TOOL_SECRET_KEY": "shared-secret",
        "LTI_TOOL_INSTANCE_PATH": str(tmp_path),
    }
    command = [str(Path(sys.executable).parent / "lti-tool"), "serve", "--threads", "2"]
    processes = [
        subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            wait_until_up(url, process)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()


def test_launch_started_on_one_process_finishes_on_another(
    two_tool_processes: tuple[str, str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = two_tool_processes
    lms = TestPlatform(first).start()
    try:
        monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path / "setup"))
        setup = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
        register_platform(setup, lms)
        load_builtin_referentiel(setup)
        setup.extensions["database"]["engine"].dispose()
        flow = LaunchFlow(lms, first)
        login = flow.start_login(lms.claims("learner"))  # state and nonce kept by process 1
        action, fields = flow.authorize(login)
        assert action == f"{first}/lti/launch"
        page = login.browser.post(f"{second}/lti/launch", data=fields, timeout=10)
        assert page.status_code == 200, page.text
        assert page.url.startswith(f"{second}/learner/")
        # The launch token minted by process 2 opens pages on process 1.
        token = page.url.split("lt=")[1]
        again = requests.get(f"{first}/learner/", params={"lt": token}, timeout=10)
        assert again.status_code == 200
    finally:
        lms.stop()


# -- where a launch leads, and what it does not reach


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        ("learner", "/learner/"),
        ("instructor", "/trainer/"),
        ("teaching_assistant", "/trainer/"),
        ("admin", "/admin/"),
    ],
)
def test_each_role_lands_on_its_page(launch_flow: LaunchFlow, role: str, landing: str) -> None:
    page = launch_flow.launch(role)
    assert page.status_code == 200, page.text
    assert landing in page.url


def test_learner_token_does_not_open_trainer_or_admin_pages(launch_flow: LaunchFlow) -> None:
    page = launch_flow.launch("learner")
    token = page.url.split("lt=")[1]
    for path in ("/trainer/", "/admin/"):
        response = requests.get(f"{launch_flow.tool_url}{path}", params={"lt": token}, timeout=10)
        assert response.status_code == 403


def test_trainer_cannot_open_a_learner_of_another_course_by_editing_the_url(
    launch_flow: LaunchFlow, live_tool
) -> None:  # type: ignore[no-untyped-def]
    launch_flow.launch("learner", user="50", context="course-2")
    page = launch_flow.launch("instructor", user="3", context="course-1")
    token = page.url.split("lt=")[1]
    with live_tool.app.app_context():
        other = db.session.scalar(select(LtiUser).where(LtiUser.sub == "50"))
        assert other is not None
        other_id = other.id
    response = requests.get(
        f"{launch_flow.tool_url}/trainer/learners/{other_id}", params={"lt": token}, timeout=10
    )
    assert response.status_code == 404


def test_same_ids_on_another_platform_are_other_users_and_courses(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    other = TestPlatform(live_tool.url).start()
    try:
        register_platform(live_tool.app, other)
        launch_flow.launch("learner", user="2", context="course-1")
        page = LaunchFlow(other, live_tool.url).launch(
            "instructor", user="2", context="course-1", name="Olga Other"
        )
        assert "/trainer/" in page.url
        # Same sub, same context id, other issuer: the first platform's learner is absent.
        assert "Ada Lovelace" not in lxml.html.fromstring(page.text).text_content()
        with live_tool.app.app_context():
            users = db.session.scalars(select(LtiUser).order_by(LtiUser.id)).all()
            assert [(u.issuer, u.sub) for u in users] == [(lms.issuer, "2"), (other.issuer, "2")]
    finally:
        other.stop()


# -- what the launch store keeps


def test_a_finished_launch_leaves_no_state_nonce_or_claims_in_the_store(
    launch_flow: LaunchFlow, live_tool
) -> None:  # type: ignore[no-untyped-def]
    assert launch_flow.launch("learner").status_code == 200
    with live_tool.app.app_context():
        keys = db.session.scalars(select(LaunchStorageEntry.key)).all()
    assert [k for k in keys if not k.startswith("lti1p3-key-set-url-")] == []


def test_expired_store_entries_are_purged_at_the_next_login(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool
) -> None:  # type: ignore[no-untyped-def]
    with live_tool.app.app_context():
        db.session.add(
            LaunchStorageEntry(
                key="lti1p3-old", value={}, expires_at=utcnow() - timedelta(seconds=1)
            )
        )
        db.session.commit()
    launch_flow.start_login(lms.claims())
    with live_tool.app.app_context():
        assert db.session.get(LaunchStorageEntry, "lti1p3-old") is None


def test_login_initiation_by_form_post_is_accepted(
    launch_flow: LaunchFlow, lms: TestPlatform
) -> None:
    hint = lms.prepare(lms.claims())
    response = requests.post(
        f"{launch_flow.tool_url}/lti/login",
        data=lms.login_parameters(hint),
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"].startswith(lms.auth_url)
