"""The platform's key set (JWKS) as a launch reads it (Security Framework §6.3,
RFC 7517, RFC 7518 §3.3): a bad answer is a clear refusal, never a 500, a hang or a
cached failure.

The hostile key sets come from a small WSGI server on loopback that the platform's
registration points to; the launches are real ones from the test LMS.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm
from sqlalchemy import update
from werkzeug.wrappers import Request, Response

from lti_tool.database import db
from lti_tool.models.platform import Platform
from tests.lms.fixtures import LiveTool
from tests.lms.flow import LaunchFlow
from tests.lms.platform import ServerThread, TestPlatform
from tests.lti_tool.test_launch_rejections import assert_refused, login_and_post


class KeySetServer:
    """Answers GET /jwks with whatever ``answer`` says; counts the requests."""

    def __init__(self) -> None:
        self.answer: Response = Response("{}", mimetype="application/json")
        self.hang = threading.Event()
        self.hanging = False
        self.requests = 0
        self._server = ServerThread(self._app).start()
        self.url = f"{self._server.url}/jwks"

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        self.requests += 1
        if self.hanging:
            self.hang.wait(30)
        return self.answer

    def serve_json(self, document: Any, status: int = 200) -> None:
        self.answer = Response(json.dumps(document), status, mimetype="application/json")

    def stop(self) -> None:
        self.hang.set()
        self._server.stop()


@pytest.fixture
def key_set_server(live_tool: LiveTool, lms: TestPlatform) -> Iterator[KeySetServer]:
    server = KeySetServer()
    with live_tool.app.app_context():
        db.session.execute(update(Platform).values(key_set_url=server.url))
        db.session.commit()
    yield server
    server.stop()


def platform_key(lms: TestPlatform, **change: Any) -> dict[str, Any]:
    return {**lms.jwks()["keys"][0], **change}


def test_key_set_that_never_answers_is_refused_within_the_timeout(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool: LiveTool, key_set_server: KeySetServer
) -> None:
    live_tool.app.config["PLATFORM_TIMEOUT_SECONDS"] = 0.5
    key_set_server.hanging = True
    response = login_and_post(launch_flow, lms)
    assert_refused(response, "key set at", "is unreadable", "no answer")


def test_key_set_larger_than_the_cap_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, key_set_server: KeySetServer
) -> None:
    key_set_server.serve_json({"keys": [platform_key(lms)], "padding": "x" * (1024 * 1024)})
    assert_refused(login_and_post(launch_flow, lms), "is unreadable", "larger than")


def test_key_set_redirecting_to_another_server_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, key_set_server: KeySetServer
) -> None:
    key_set_server.answer = Response(status=302, headers={"Location": lms.jwks_url})
    assert_refused(login_and_post(launch_flow, lms), "redirects to another server")


def test_key_set_error_answer_is_refused_and_not_cached(
    launch_flow: LaunchFlow, lms: TestPlatform, key_set_server: KeySetServer
) -> None:
    key_set_server.serve_json({"error": "down for maintenance"}, status=500)
    assert_refused(login_and_post(launch_flow, lms), "is unreadable", "HTTP 500")
    # The platform recovers: the next launch fetches the key set again and passes.
    key_set_server.serve_json(lms.jwks())
    response = login_and_post(launch_flow, lms)
    assert response.status_code == 200, response.text


def test_wrongly_shaped_key_set_is_not_cached(
    launch_flow: LaunchFlow, lms: TestPlatform, key_set_server: KeySetServer
) -> None:
    key_set_server.serve_json({"keys": None})
    assert_refused(login_and_post(launch_flow, lms), "no list of keys")
    key_set_server.serve_json(lms.jwks())
    assert login_and_post(launch_flow, lms).status_code == 200


def test_good_key_set_is_cached(
    launch_flow: LaunchFlow, lms: TestPlatform, key_set_server: KeySetServer
) -> None:
    key_set_server.serve_json(lms.jwks())
    assert login_and_post(launch_flow, lms).status_code == 200
    assert login_and_post(launch_flow, lms).status_code == 200
    assert key_set_server.requests == 1


def _ec_key() -> dict[str, Any]:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return json.loads(ECAlgorithm.to_jwk(public))  # type: ignore[no-any-return]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("key_set", "reason"),
    [
        (lambda lms: [platform_key(lms)], "not a JSON object"),
        (lambda lms: {"keys": None}, "no list of keys"),
        (lambda lms: {"keys": ["a key"]}, "a key is not a JSON object"),
        (
            lambda lms: {"keys": [{"kid": lms.kid, "kty": "oct", "k": _b64(b"s" * 32)}]},
            "'oct' key, not RSA",
        ),
        (
            lambda lms: {"keys": [{k: v for k, v in platform_key(lms).items() if k != "kty"}]},
            "has no key type (kty)",
        ),
        (
            lambda lms: {"keys": [{**_ec_key(), "kid": lms.kid, "alg": "RS256"}]},
            "'EC' key, not RSA",
        ),
        (lambda lms: {"keys": [platform_key(lms, n="!!not base64!!")]}, "not a valid RSA key"),
        (lambda lms: {"keys": [platform_key(lms, n=7)]}, "not a valid RSA key"),
    ],
    ids=[
        "list",
        "keys-null",
        "keys-strings",
        "oct",
        "no-kty",
        "ec-labelled-rs256",
        "garbage-n",
        "n-not-a-string",
    ],
)
def test_unreadable_key_set_is_refused(
    launch_flow: LaunchFlow,
    lms: TestPlatform,
    key_set_server: KeySetServer,
    key_set: Any,
    reason: str,
) -> None:
    key_set_server.serve_json(key_set(lms))
    assert_refused(login_and_post(launch_flow, lms), "is unreadable", reason)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"keys": ["\xff\xfe"]}', "not UTF-8"),
        (b"<html>not json</html>", "not JSON"),
    ],
    ids=["deeply-nested", "not-utf8", "not-json"],
)
def test_key_set_that_is_not_readable_json_is_refused(
    launch_flow: LaunchFlow,
    lms: TestPlatform,
    key_set_server: KeySetServer,
    body: bytes,
    reason: str,
) -> None:
    key_set_server.answer = Response(body, mimetype="application/json")
    assert_refused(login_and_post(launch_flow, lms), "is unreadable", reason)


# PyJWT only warns when the test LMS signs with the short key.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_rsa_key_under_2048_bits_is_refused(launch_flow: LaunchFlow, lms: TestPlatform) -> None:
    # RFC 7518 §3.3: RS256 keys MUST be 2048 bits or larger.
    lms.key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    assert_refused(login_and_post(launch_flow, lms), "1024 bits", "at least 2048")


def test_key_set_trickling_past_the_timeout_is_refused(
    launch_flow: LaunchFlow, lms: TestPlatform, live_tool: LiveTool, key_set_server: KeySetServer
) -> None:
    # Each byte comes within the per-read timeout, the whole answer does not.
    live_tool.app.config["PLATFORM_TIMEOUT_SECONDS"] = 0.5

    def trickle() -> Iterator[bytes]:
        for _ in range(40):
            key_set_server.hang.wait(0.1)
            yield b" "
        yield json.dumps(lms.jwks()).encode()

    key_set_server.answer = Response(trickle(), mimetype="application/json")
    assert_refused(login_and_post(launch_flow, lms), "is unreadable", "took too long")
