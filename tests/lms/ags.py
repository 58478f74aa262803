"""A real HTTP AGS 2.0 platform on loopback, for tests: token endpoint, line items, scores.

A Flask app served by werkzeug's ``make_server`` in a thread. It behaves as Moodle
does where Moodle is strict:

* token endpoint (1EdTech Security Framework §4.1): ``client_credentials`` with a
  ``client_assertion`` JWT checked against the tool's JWKS (from a callable: the keys
  in the database, or fetched over HTTP from a live tool), issuer and subject the
  client id, audience the token URL, a fresh ``jti``;
* line items (AGS §3.2): GET with ``resource_link_id``/``resource_id``/``tag`` filters
  and paging through a ``Link`` header (Moodle's typographic quotes by default), POST
  needs ``label`` and ``scoreMaximum``;
* scores (AGS §3.4): bearer token with the score scope, ``userId``, ``timestamp``,
  ``activityProgress`` and ``gradingProgress`` required; a timestamp not newer (to the
  second) than the stored one is refused with 409; ``scoreGiven`` is kept only when
  ``gradingProgress`` is ``FullyGraded``.

Failure injection: ``fail_next`` (e.g. 503 or 429 with Retry-After for N requests),
``answer_next`` (a scripted status, raw body and headers: a malformed token or line
item answer, a redirect), ``slow_next`` (sleep before answering, for client
timeouts), ``stall_next`` (hold requests until ``release``), and ``stop``/``start``
for connection refused.

Kept separable: ``create_app(state)`` is a plain Flask app that a launch platform's
test server can mount under a prefix (werkzeug's DispatcherMiddleware).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
ALLOWED_SCOPES = {SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_SCORE}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACTIVITY_PROGRESS = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING_PROGRESS = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


@dataclass
class Fault:
    kind: str  # "status" | "answer" | "slow" | "stall"
    remaining: int
    status: int = 503
    retry_after: str | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    paths: str = "any"  # "any" | "token" | "scores" | "lineitems"


@dataclass
class AgsState:
    client_id: str
    jwks: Callable[[], dict[str, Any]]
    base_url: str = ""
    token_lifetime: int = 3600
    page_size: int = 2
    moodle_quotes: bool = True
    known_users: set[str] | None = None  # None: everyone has a gradebook role
    line_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    grades: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # scores stored, in order
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    tokens: dict[str, tuple[set[str], float]] = field(default_factory=dict)
    token_requests: int = 0
    seen_jti: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    stalled: int = 0  # requests currently held by a stall
    drop_stalled: bool = False  # on release: True loses held requests, False processes them
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def lineitems_url(self) -> str:
        return f"{self.base_url}/lineitems"

    def add_line_item(self, **item: Any) -> dict[str, Any]:
        with self.lock:
            number = next(self._ids)
            stored = {**item, "id": f"{self.base_url}/lineitems/{number}"}
            self.line_items[number] = stored
            return stored

    def fail_next(
        self, n: int, status: int = 503, retry_after: str | None = None, paths: str = "any"
    ) -> None:
        self.faults.append(Fault("status", n, status=status, retry_after=retry_after, paths=paths))

    def answer_next(
        self,
        n: int,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        paths: str = "any",
    ) -> None:
        """Answer the next ``n`` requests with this status and raw body, whatever they ask."""
        answer = Fault("answer", n, status=status, body=body, headers=headers or {}, paths=paths)
        self.faults.append(answer)

    def slow_next(self, n: int, seconds: float, paths: str = "any") -> None:
        self.faults.append(Fault("slow", n, seconds=seconds, paths=paths))

    def stall_next(self, n: int, paths: str = "scores") -> None:
        self.release.clear()
        self.faults.append(Fault("stall", n, paths=paths))

    def scores_for(self, user_id: str) -> list[dict[str, Any]]:
        return [s for s in self.accepted if s["userId"] == user_id]


def moodle_rel_next() -> str:
    """``rel=“next”`` as Moodle sends it: its UTF-8 bytes on the wire (werkzeug writes
    header text as Latin-1, so the text given is those bytes read as Latin-1)."""
    return "“next”".encode().decode("latin-1")


def _kind(path: str) -> str:
    if path == "/token":
        return "token"
    if path.endswith("/scores"):
        return "scores"
    return "lineitems"


def _oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": error, "error_description": description}), status


def create_app(state: AgsState) -> Flask:
    app = Flask("ags_test_platform")

    @app.before_request
    def _inject_faults() -> Any:
        kind = _kind(request.path)
        with state.lock:
            fault = next(
                (f for f in state.faults if f.remaining > 0 and f.paths in ("any", kind)), None
            )
            if fault is not None:
                fault.remaining -= 1
        if fault is None:
            return None
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return None
        if fault.kind == "stall":
            with state.lock:
                state.stalled += 1
            state.release.wait(timeout=60)
            with state.lock:
                state.stalled -= 1
            if not state.drop_stalled:
                return None
            lost = jsonify({"error": "the request was lost"})
            lost.status_code = 503
            return lost
        if fault.kind == "answer":
            scripted = Response(fault.body, fault.status, content_type="application/json")
            scripted.headers.update(fault.headers)
            return scripted
        response = jsonify({"error": "injected failure"})
        response.status_code = fault.status
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    @app.after_request
    def _log(response: Response) -> Response:
        with state.lock:
            state.log.append((request.method, request.path, response.status_code))
        return response

    def bearer(scope_any: set[str]) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        granted = state.tokens.get(token)
        if not header.startswith("Bearer ") or granted is None or granted[1] < time.time():
            return "invalid or expired access token"
        if not granted[0] & scope_any:
            return "the access token lacks the scope for this service"
        return None

    @app.post("/token")
    def token() -> Any:
        with state.lock:
            state.token_requests += 1
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "client_credentials only")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return _oauth_error("invalid_request", "client_assertion_type must be jwt-bearer")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            keys = {k["kid"]: k for k in state.jwks()["keys"]}
            if header.get("kid") not in keys:
                return _oauth_error("invalid_client", "unknown kid", 401)
            claims = jwt.decode(
                assertion,
                jwt.PyJWK(keys[header["kid"]]).key,
                algorithms=["RS256"],
                audience=state.token_url,
                issuer=state.client_id,
                options={"require": ["exp", "iat", "jti", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            return _oauth_error("invalid_client", f"client assertion refused: {error}", 401)
        if claims["sub"] != state.client_id:
            return _oauth_error("invalid_client", "sub must be the client id", 401)
        with state.lock:
            if claims["jti"] in state.seen_jti:
                return _oauth_error("invalid_client", "jti already used", 401)
            state.seen_jti.add(claims["jti"])
        scopes = set(form.get("scope", "").split())
        if not scopes or not scopes <= ALLOWED_SCOPES:
            return _oauth_error("invalid_scope", "unknown scope")
        access = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[access] = (scopes, time.time() + state.token_lifetime)
        return jsonify(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": state.token_lifetime,
                "scope": " ".join(sorted(scopes)),
            }
        )

    @app.get("/lineitems")
    def list_line_items() -> Any:
        refused = bearer({SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY})
        if refused:
            return jsonify({"error": refused}), 401
        filters = {
            "resourceLinkId": request.args.get("resource_link_id"),
            "resourceId": request.args.get("resource_id"),
            "tag": request.args.get("tag"),
        }
        with state.lock:
            items = [
                item
                for item in state.line_items.values()
                if all(value is None or item.get(key) == value for key, value in filters.items())
            ]
        limit = int(request.args.get("limit", state.page_size))
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * limit : page * limit]
        response = jsonify(chunk)
        response.headers["Content-Type"] = "application/vnd.ims.lis.v2.lineitemcontainer+json"
        if page * limit < len(items):
            args = {k: v for k, v in request.args.items() if k != "page"}
            args.update({"page": str(page + 1), "limit": str(limit)})
            url = f"{state.lineitems_url}?{urlencode(args)}"
            rel = moodle_rel_next() if state.moodle_quotes else '"next"'
            response.headers["Link"] = f"<{url}>; rel={rel}"
        return response

    @app.post("/lineitems")
    def create_line_item() -> Any:
        refused = bearer({SCOPE_LINEITEM})
        if refused:
            return jsonify({"error": refused}), 401
        body = request.get_json(silent=True) or {}
        if not body.get("label") or "scoreMaximum" not in body:
            return jsonify({"error": "label and scoreMaximum are required"}), 400
        item = state.add_line_item(**body)
        response = jsonify(item)
        response.status_code = 201
        response.headers["Content-Type"] = "application/vnd.ims.lis.v2.lineitem+json"
        return response

    @app.get("/lineitems/<int:number>")
    def get_line_item(number: int) -> Any:
        refused = bearer({SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY})
        if refused:
            return jsonify({"error": refused}), 401
        item = state.line_items.get(number)
        if item is None:
            return jsonify({"error": "no such line item"}), 404
        return jsonify(item)

    @app.post("/lineitems/<int:number>/scores")
    def post_score(number: int) -> Any:
        refused = bearer({SCOPE_SCORE})
        if refused:
            return jsonify({"error": refused}), 401
        if number not in state.line_items:
            return jsonify({"error": "no such line item"}), 404
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return jsonify(
                {"error": "Content-Type must be application/vnd.ims.lis.v1.score+json"}
            ), 415
        score = request.get_json(silent=True) or {}
        missing = [
            k
            for k in ("userId", "timestamp", "activityProgress", "gradingProgress")
            if k not in score
        ]
        if missing:
            return jsonify({"error": f"missing {', '.join(missing)}"}), 400
        if (
            score["activityProgress"] not in ACTIVITY_PROGRESS
            or score["gradingProgress"] not in GRADING_PROGRESS
        ):
            return jsonify({"error": "unknown activityProgress or gradingProgress"}), 400
        if state.known_users is not None and score["userId"] not in state.known_users:
            return jsonify({"error": "user not in the gradebook"}), 400
        try:
            stamp = datetime.fromisoformat(score["timestamp"].replace("Z", "+00:00"))
        except ValueError:
            return jsonify({"error": "timestamp is not ISO 8601"}), 400
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        seconds = int(stamp.timestamp())
        key = (number, str(score["userId"]))
        with state.lock:
            held = state.grades.get(key)
            if held is not None and seconds <= held["seconds"]:
                return jsonify({"error": "score timestamp not newer than the stored one"}), 409
            kept = score.get("scoreGiven") if score["gradingProgress"] == "FullyGraded" else None
            state.grades[key] = {
                "seconds": seconds,
                "grade": kept,
                "feedback": score.get("comment"),
            }
            state.accepted.append({**score, "lineitem": number})
        return Response(status=200)

    return app


class AgsServer:
    """The app above on 127.0.0.1, in a thread; ``stop``/``start`` keep the same port."""

    def __init__(self, client_id: str, jwks: Callable[[], dict[str, Any]]) -> None:
        self.state = AgsState(client_id=client_id, jwks=jwks)
        self.app = create_app(self.state)
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AgsServer:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self.state.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: clients now get connection refused."""
        self.state.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return self.state.base_url


def jwks_over_http(url: str) -> Callable[[], dict[str, Any]]:
    """A JWKS source that fetches the tool's published key set from a live tool server."""

    def fetch() -> dict[str, Any]:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    return fetch
