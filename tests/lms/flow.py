"""A browser for LTI launches: a ``requests.Session`` driving login → auth → launch.

Like flaskr's ``AuthActions``: ``flow.launch(role="learner")`` runs the whole launch
over HTTP and returns the page the tool opens; ``flow.start_login()`` stops after
the tool's login so that tests can post a token of their own (rejection cases).
"""

from __future__ import annotations

import http.cookiejar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import requests

from tests.lms.platform import TestPlatform


@dataclass
class Login:
    """Where the tool's login sent the browser: the platform's auth URL, state, nonce."""

    browser: requests.Session
    auth_url: str
    state: str
    nonce: str
    hint: str


def form_fields(html: str) -> tuple[str, dict[str, str]]:
    """The first form's action and hidden fields."""
    form = lxml.html.fromstring(html).forms[0]
    return str(form.action), {str(k): str(v) for k, v in form.form_values()}


def data_attributes(html: str, element_id: str) -> dict[str, str]:
    element = lxml.html.fromstring(html).get_element_by_id(element_id)
    return {k.removeprefix("data-"): v for k, v in element.attrib.items() if k.startswith("data-")}


def cookieless_session() -> requests.Session:
    """A browser whose cookie jar keeps nothing (third-party cookies blocked)."""
    browser = requests.Session()
    browser.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return browser


@dataclass
class PlatformStorage:
    """The platform window's storage (LTI Client Side postMessages), per browser."""

    origin: str
    values: dict[str, str] = field(default_factory=dict)

    def put(self, target_origin: str, key: str, value: str) -> None:
        if target_origin == self.origin:  # postMessage delivers only to that origin
            self.values[key] = value

    def get(self, target_origin: str, key: str) -> str | None:
        return self.values.get(key) if target_origin == self.origin else None


class LaunchFlow:
    def __init__(self, platform: TestPlatform, tool_url: str) -> None:
        self.platform = platform
        self.tool_url = tool_url.rstrip("/")

    def start_login(
        self,
        claims: dict[str, Any] | None = None,
        *,
        browser: requests.Session | None = None,
        **claim_options: Any,
    ) -> Login:
        browser = browser or requests.Session()
        hint = self.platform.prepare(claims or self.platform.claims(**claim_options))
        response = browser.get(
            f"{self.tool_url}/lti/login",
            params=self.platform.login_parameters(hint),
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        query = parse_qs(urlsplit(location).query)
        return Login(browser, location, query["state"][0], query["nonce"][0], hint)

    def post_launch(
        self, login: Login, id_token: str | None, state: str | None = None, **kwargs: Any
    ) -> requests.Response:
        data = {}
        if id_token is not None:
            data["id_token"] = id_token
        if state is not None or login.state:
            data["state"] = login.state if state is None else state
        return login.browser.post(f"{self.tool_url}/lti/launch", data=data, timeout=10, **kwargs)

    def authorize(self, login: Login) -> tuple[str, dict[str, str]]:
        """Follow the tool's redirect to the platform; return its auto-submitted form."""
        response = login.browser.get(login.auth_url, timeout=10)
        assert response.status_code == 200, response.text
        return form_fields(response.text)

    def launch(
        self,
        role: str = "learner",
        *,
        browser: requests.Session | None = None,
        claims: dict[str, Any] | None = None,
        **claim_options: Any,
    ) -> requests.Response:
        """A full launch: login, platform authorization, form_post; the page reached."""
        if claims is None:
            claims = self.platform.claims(role, **claim_options)
        login = self.start_login(claims, browser=browser)
        action, fields = self.authorize(login)
        return login.browser.post(action, data=fields, timeout=10)

    def cookieless_launch(self, role: str = "learner", **claim_options: Any) -> requests.Response:
        """A launch in a browser that keeps no cookie, through the platform's storage."""
        browser = cookieless_session()
        storage = PlatformStorage(origin=self.platform.url)
        hint = self.platform.prepare(self.platform.claims(role, **claim_options))
        page = browser.get(
            f"{self.tool_url}/lti/login",
            params=self.platform.login_parameters(hint, storage_target="_parent"),
            timeout=10,
        )
        assert page.status_code == 200, page.text
        login = data_attributes(page.text, "lti-storage-login")
        # What platform-storage.js does: lti.put_data, then go to the platform.
        storage.put(login["platform-origin"], "state_" + login["state"], login["state"])
        storage.put(login["platform-origin"], "nonce_" + login["nonce"], login["nonce"])
        auth = browser.get(login["auth-url"], timeout=10)
        action, fields = form_fields(auth.text)
        page = browser.post(action, data=fields, timeout=10)
        assert page.status_code == 200, page.text
        launch = data_attributes(page.text, "lti-storage-launch")
        id_token = lxml.html.fromstring(page.text).get_element_by_id("lti-id-token").value
        # What platform-storage.js does next: lti.get_data, then a JSON POST.
        stored = storage.get(launch["platform-origin"], "state_" + launch["state"])
        complete = browser.post(
            f"{self.tool_url}{launch['complete-url']}",
            json={"id_token": id_token, "state": launch["state"], "stored_state": stored},
            headers={"Origin": self.tool_url, "Accept": "application/json"},
            timeout=10,
        )
        if complete.status_code != 200 or "redirect" not in complete.json():
            return complete
        return browser.get(urljoin(self.tool_url, complete.json()["redirect"]), timeout=10)
