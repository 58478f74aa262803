"""Rate limits of the anonymous endpoints: Dynamic Registration, OIDC login and launch,
and xAPI requests refused for their credentials (lti_tool.rate_limits)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from lti_tool import create_app
from lti_tool.database import db
from lti_tool.exceptions import ConfigurationError
from tests.conftest import BASE_URL
from tests.lti_tool.xapi.xapi_lrs_client import basic
from xapi.credentials import create_credential

REDIS_URL = "redis://127.0.0.1:6379"
XAPI = {"X-Experience-API-Version": "1.0.3"}
STATEMENTS = Path(__file__).resolve().parents[1] / "data" / "xapi"

MakeApp = Callable[..., Flask]


# Seconds a test may take between its first counted request and its last.
TEST_SPAN = 5.0


@pytest.fixture(autouse=True)
def clear_of_a_window_edge() -> None:
    """Start each test at least TEST_SPAN seconds before the next whole minute.

    The limits are counted in windows aligned on the clock (sliding-window counter):
    three launches just before a minute ends and a fourth just after it weigh a little
    under three, and the fourth passed (a 400 where the test expected 429, seen once in
    CI). Hour windows end on a minute too."""
    left = 60.0 - time.time() % 60.0
    if left < TEST_SPAN:
        time.sleep(left + 0.1)


@pytest.fixture
def make_app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeApp]:
    """Apps with rate limits on (the suite turns them off), low enough to reach."""
    monkeypatch.setenv("LTI_TOOL_INSTANCE_PATH", str(tmp_path / "instance"))
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        application = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "BASE_URL": BASE_URL,
                "SECRET_KEY": "test-secret-key",
                "RATE_LIMIT_ENABLED": True,
                "RATE_LIMIT_REGISTRATION": "2 per hour",
                "RATE_LIMIT_LAUNCH": "3 per minute",
                "RATE_LIMIT_XAPI_AUTH_FAILURES": "3 per minute",
                **settings,
            }
        )
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["database"]["engine"].dispose()


@pytest.fixture
def client(make_app: MakeApp) -> FlaskClient:
    return make_app().test_client()


def credential(application: Flask) -> tuple[str, str]:
    with application.app_context():
        issued = create_credential(db.session, "Moodle log store")
        db.session.commit()
        return issued.credential.key, issued.secret


def xapi_get(client: FlaskClient, key: str, secret: str, address: str = "127.0.0.1") -> Any:
    return client.get(
        "/xapi/statements",
        headers={**XAPI, "Authorization": basic(key, secret)},
        environ_base={"REMOTE_ADDR": address},
    )


def assert_too_many(answer: TestResponse, reason: str) -> None:
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600
    assert reason in answer.get_data(as_text=True)


def test_dynamic_registration_is_limited_per_address(client: FlaskClient) -> None:
    for _ in range(2):
        assert client.get("/lti/register").status_code == 400  # no openid_configuration
    refused = client.get("/lti/register")
    assert_too_many(refused, "Too many platform registrations from your address.")
    assert "text/html" in refused.content_type  # a person's browser: the error page
    other = client.get("/lti/register", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/lti/login"), ("POST", "/lti/login"), ("POST", "/lti/launch")],
)
def test_login_and_launch_are_limited_per_address(
    client: FlaskClient, method: str, path: str
) -> None:
    for _ in range(3):
        assert client.open(path, method=method).status_code == 400  # not a real LTI message
    assert_too_many(client.open(path, method=method), "Too many LTI launches from your address.")


def test_login_and_launch_are_counted_apart(client: FlaskClient) -> None:
    for _ in range(3):
        client.get("/lti/login")
    assert client.post("/lti/launch").status_code == 400


def test_a_429_answers_json_to_api_clients(client: FlaskClient) -> None:
    for _ in range(3):
        client.get("/lti/login")
    refused = client.get("/lti/login", headers={"Accept": "application/json"})
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["status"] == 429
    assert body["error"].startswith("Too many LTI launches from your address. Try again in ")


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(make_app: MakeApp) -> None:
    client = make_app(TRUSTED_PROXIES=1).test_client()
    for _ in range(3):
        client.get("/lti/login", headers={"X-Forwarded-For": "198.51.100.1"})
    assert client.get("/lti/login", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert client.get("/lti/login", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 400


def test_wrong_xapi_credentials_are_throttled_while_good_ones_keep_working(
    make_app: MakeApp,
) -> None:
    application = make_app()
    client = application.test_client()
    key, secret = credential(application)
    for _ in range(3):
        assert xapi_get(client, key, "a stale secret").status_code == 401
        assert xapi_get(client, key, secret).status_code == 200
    refused = xapi_get(client, key, "a stale secret")
    assert_too_many(refused, "Too many requests with wrong xAPI credentials from your address.")
    # xAPI 1.0.3 Communication §3.3: every answer of the LRS names its version, errors too.
    assert refused.headers["X-Experience-API-Version"] == "1.0.3"
    assert refused.is_json
    assert xapi_get(client, "another key", "another guess").status_code == 429
    assert xapi_get(client, key, "a stale secret", address="192.0.2.8").status_code == 401
    for _ in range(50):
        assert xapi_get(client, key, secret).status_code == 200


def test_statements_posted_with_good_credentials_are_never_counted(make_app: MakeApp) -> None:
    application = make_app()
    client = application.test_client()
    key, secret = credential(application)
    statement = json.loads((STATEMENTS / "moodle_quiz_completed.json").read_text())
    statement.pop("id", None)
    headers = {**XAPI, "Authorization": basic(key, secret), "Content-Type": "application/json"}
    for _ in range(20):
        answer = client.post("/xapi/statements", data=json.dumps(statement), headers=headers)
        assert answer.status_code == 200


def test_requests_outside_the_limited_endpoints_leave_the_limiter_alone(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask-Limiter's app-wide hooks run for the limited endpoints only: resolving
    limits on every xAPI POST cost about 50 µs of the 700 it takes in-process."""
    application = make_app()
    limiter = application.extensions["rate_limits"]
    looked_up: list[str | None] = []
    identify = limiter.identify_request

    def counting_identify() -> str | None:
        endpoint = identify()
        looked_up.append(endpoint)
        return endpoint

    monkeypatch.setattr(limiter, "identify_request", counting_identify)
    client = application.test_client()
    key, secret = credential(application)
    statement = json.loads((STATEMENTS / "moodle_quiz_completed.json").read_text())
    statement.pop("id", None)
    headers = {**XAPI, "Authorization": basic(key, secret), "Content-Type": "application/json"}
    assert client.post("/xapi/statements", json=statement, headers=headers).status_code == 200
    assert xapi_get(client, key, secret).status_code == 200
    assert client.get("/__lbheartbeat__").status_code == 200
    assert looked_up == []
    for _ in range(3):
        assert client.get("/lti/login").status_code == 400
    assert "lti.login" in looked_up
    assert_too_many(client.get("/lti/login"), "Too many LTI launches from your address.")


def test_rate_limits_can_be_turned_off(make_app: MakeApp) -> None:
    application = make_app(RATE_LIMIT_ENABLED=False)
    client = application.test_client()
    assert "rate_limits" not in application.extensions
    for _ in range(10):
        assert client.get("/lti/register").status_code == 400
        assert client.get("/lti/login").status_code == 400
        assert xapi_get(client, "nobody", "wrong").status_code == 401


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "RATE_LIMIT_LAUNCH",
            "often",
            "LTI_TOOL_RATE_LIMIT_LAUNCH must be a rate limit such as '10 per hour', not 'often'",
        ),
        (
            "RATE_LIMIT_STORAGE_URL",
            "memcache://127.0.0.1",
            "LTI_TOOL_RATE_LIMIT_STORAGE_URL must be memory:// or redis://host:port, "
            "not 'memcache://127.0.0.1'",
        ),
    ],
)
def test_an_unusable_rate_limit_setting_stops_the_start(
    make_app: MakeApp, setting: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make_app(**{setting: value})
    assert str(refused.value) == message


def test_an_unreachable_storage_lets_requests_through(make_app: MakeApp) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    client = make_app(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9").test_client()
    for _ in range(3):
        assert client.get("/lti/login").status_code == 400
    # Counted in memory meanwhile: the limit still holds.
    assert client.get("/lti/login").status_code == 429
    for _ in range(3):
        assert xapi_get(client, "nobody", "wrong").status_code == 401
    assert xapi_get(client, "nobody", "wrong").status_code == 429


def test_an_unreachable_storage_never_turns_an_xapi_refusal_into_an_error(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_app(RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9").test_client()
    for _ in range(5):
        assert xapi_get(client, "nobody", "wrong").status_code == 401
    assert "rate limit storage unavailable" in caplog.text


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


def test_workers_sharing_a_redis_storage_share_the_count(make_app: MakeApp) -> None:
    if not redis_reachable():
        pytest.skip(f"no Redis at {REDIS_URL}")
    # Two apps stand for two gunicorn workers; an address of its own keeps this run's
    # counts apart from other runs using the same Redis.
    address = f"fd00::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    workers = [make_app(RATE_LIMIT_STORAGE_URL=REDIS_URL).test_client() for _ in range(2)]
    for attempt in range(3):
        worker = workers[attempt % 2]
        assert worker.get("/lti/login", environ_base={"REMOTE_ADDR": address}).status_code == 400
    for worker in workers:
        refused = worker.get("/lti/login", environ_base={"REMOTE_ADDR": address})
        assert refused.status_code == 429
    for attempt in range(3):
        assert xapi_get(workers[attempt % 2], "nobody", "wrong", address).status_code == 401
    for worker in workers:
        assert xapi_get(worker, "nobody", "wrong", address).status_code == 429


def test_each_worker_counts_apart_in_memory(make_app: MakeApp) -> None:
    workers = [make_app().test_client() for _ in range(2)]
    for _ in range(3):
        workers[0].get("/lti/login")
    assert workers[0].get("/lti/login").status_code == 429
    assert workers[1].get("/lti/login").status_code == 400
