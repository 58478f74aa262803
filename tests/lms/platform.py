"""A test LMS platform: LTI 1.3 over real HTTP on loopback, with its own RSA key.

Endpoints: JWKS, OIDC authorization (form_post of a signed id_token), OAuth2 token
(client_credentials with a private_key_jwt assertion checked against the tool's
JWKS), NRPS membership container (paged), Deep Linking return (the tool's signed
response checked), and LTI Dynamic Registration (OpenID configuration and a
registration endpoint that wants a single-use bearer token).

Launches are prepared in Python (``prepare``) and then driven by a browser — a
``requests.Session`` in :mod:`lms.flow`, or a real browser — through the tool's
login. Bad tokens for rejection tests are minted with ``id_token(...)``.

Run alone: ``python tests/lms/platform.py --tool-url http://127.0.0.1:8000`` (prints
the ``lti-tool platform add`` command and serves until interrupted).
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, jsonify, request
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import BaseWSGIServer, make_server

from tests.lms.ags import moodle_rel_next

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
ROLES = {
    "learner": [LIS + "membership#Learner", LIS + "institution/person#Student"],
    "instructor": [LIS + "membership#Instructor", LIS + "institution/person#Faculty"],
    "teaching_assistant": [LIS + "membership/Instructor#TeachingAssistant"],
    "admin": [
        LIS + "institution/person#Administrator",
        LIS + "membership#Instructor",
        LIS + "system/person#Administrator",
    ],
}


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class PendingLaunch:
    """A launch the platform will answer at /auth for this lti_message_hint."""

    claims: dict[str, Any]
    header: dict[str, Any] = field(default_factory=dict)
    mutate: Callable[[dict[str, Any]], None] | None = None


class ServerThread:
    """A WSGI app served on a loopback port in a daemon thread."""

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestPlatform:
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        tool_url: str,
        *,
        client_id: str = "tool-client-1",
        deployment_id: str = "1",
        host: str = "127.0.0.1",
        port: int = 0,
        public_host: str | None = None,
    ) -> None:
        self.tool_url = tool_url.rstrip("/")
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.key = new_rsa_key()
        self.kid = "platform-key-1"
        self.app = self._make_app()
        self._server = ServerThread(self.app, host, port)
        # public_host="localhost" puts the platform on another site than a tool at
        # 127.0.0.1, as Moodle and a tool on two domains are for a browser.
        self.url = self._server.url.replace(host, public_host or host, 1)
        self.issuer = self.url
        self.pending: dict[str, PendingLaunch] = {}
        self.access_tokens: dict[str, set[str]] = {}
        self.used_jtis: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        self.members: dict[str, list[dict[str, Any]]] = {}
        self.nrps_page_size = 50
        self.nrps_moodle_quotes = False  # rel=“next” in UTF-8, as Moodle writes AGS links
        self.deep_link_data: dict[str, Any] = {}
        self.deep_link_responses: list[dict[str, Any]] = []
        self.registration_tokens: set[str] = set()
        self.registrations: list[dict[str, Any]] = []
        # The client id the registration endpoint gives (a random one when None).
        self.registration_client_id: str | None = None
        self.extra_keys: list[dict[str, Any]] = []
        self.last_client_id: str | None = None

    # -- lifecycle
    def start(self) -> TestPlatform:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def registration(self) -> dict[str, Any]:
        """Keyword arguments for ``lti_tool.platforms.save_platform``."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.auth_url,
            "auth_token_url": self.token_url,
            "key_set_url": self.jwks_url,
            "deployment_ids": [self.deployment_id],
            "name": "Test LMS",
        }

    def cli_add_command(self) -> str:
        r = self.registration()
        return (
            f"lti-tool platform add --issuer {r['issuer']} --client-id {r['client_id']} "
            f"--auth-login-url {r['auth_login_url']} --auth-token-url {r['auth_token_url']} "
            f"--key-set-url {r['key_set_url']} --deployment-id {self.deployment_id} "
            f"--name 'Test LMS'"
        )

    # -- minting
    def claims(
        self,
        role: str = "learner",
        *,
        user: str = "2",
        context: str | None = "course-1",
        context_title: str = "BGDC 2026",
        resource_link: str = "link-1",
        message_type: str = "LtiResourceLinkRequest",
        custom: dict[str, str] | None = None,
        name: str | None = "Ada Lovelace",
        email: str | None = "ada@example.org",
        roles: list[str] | None = None,
    ) -> dict[str, Any]:
        """The claims of a Moodle-like launch (nonce, iat and exp are set when minted)."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": user,
            LTI + "deployment_id": self.deployment_id,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "target_link_uri": f"{self.tool_url}/lti/launch",
            LTI + "roles": list(ROLES[role]) if roles is None else roles,
            LTI + "launch_presentation": {"locale": "fr", "document_target": "iframe"},
            LTI + "tool_platform": {"product_family_code": "moodle", "guid": "test-lms"},
        }
        if name is not None:
            claims.update(name=name, given_name=name.split()[0], family_name=name.split()[-1])
        if email is not None:
            claims["email"] = email
        if context is not None:
            claims[LTI + "context"] = {
                "id": context,
                "label": "BGDC",
                "title": context_title,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            }
            claims[NRPS_CLAIM] = {
                "context_memberships_url": f"{self.url}/nrps/{context}",
                "service_versions": ["2.0"],
            }
            claims[AGS_CLAIM] = {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": f"{self.url}/ags/{context}/lineitems",
            }
        if message_type == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": resource_link, "title": "Compétences"}
        if message_type == "LtiDeepLinkingRequest":
            self.deep_link_data = {"placement": uuid.uuid4().hex}
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": False,
                "auto_create": True,
                "data": json.dumps(self.deep_link_data),
            }
        if custom:
            claims[LTI + "custom"] = dict(custom)
        return claims

    def id_token(
        self,
        claims: dict[str, Any],
        *,
        nonce: str | None,
        header: dict[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
        lifetime: int = 300,
    ) -> str:
        now = int(time.time())
        body = {"iat": now, "exp": now + lifetime, **claims}
        if nonce is not None and "nonce" not in claims:
            body["nonce"] = nonce
        body = {k: v for k, v in body.items() if v is not _DROP}
        headers = {"kid": self.kid, **(header or {})}
        headers = {k: v for k, v in headers.items() if v is not _DROP}
        if algorithm == "none":
            return jwt.encode(body, None, algorithm="none", headers=headers)
        if algorithm.startswith("HS"):
            return jwt.encode(body, "shared-secret-" * 3, algorithm=algorithm, headers=headers)
        return jwt.encode(body, pem(key or self.key), algorithm=algorithm, headers=headers)

    def prepare(self, claims: dict[str, Any], **options: Any) -> str:
        """Remember a launch; its lti_message_hint is returned."""
        hint = uuid.uuid4().hex
        self.pending[hint] = PendingLaunch(claims=claims, **options)
        return hint

    def login_parameters(self, hint: str, *, storage_target: str | None = None) -> dict[str, str]:
        """What the platform sends to the tool's login URL (Core §5.1.1.1)."""
        pending = self.pending[hint]
        params = {
            "iss": self.issuer,
            "login_hint": str(pending.claims.get("sub", "")),
            "target_link_uri": f"{self.tool_url}/lti/launch",
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        if storage_target:
            params["lti_storage_target"] = storage_target
        return params

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public, *self.extra_keys]}

    # -- the tool's keys, as the platform fetches them
    def tool_key(self, kid: str | None) -> Any:
        keys = requests.get(f"{self.tool_url}/lti/jwks", timeout=5).json()["keys"]
        for key in keys:
            if key.get("kid") == kid:
                return jwt.PyJWK(key).key
        raise LookupError(f"no tool key {kid!r}")

    def verify_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token).get("kid")
        return jwt.decode(
            token,
            self.tool_key(kid),
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )

    # -- the HTTP side
    def _make_app(self) -> Flask:
        app = Flask("test_lms")

        @app.get("/jwks")
        def jwks() -> Response:
            return jsonify(self.jwks())

        @app.get("/auth")
        def auth() -> Response | str:
            args = request.args
            problems = []
            if args.get("scope") != "openid":
                problems.append("scope")
            if args.get("response_type") != "id_token":
                problems.append("response_type")
            if args.get("response_mode") != "form_post":
                problems.append("response_mode")
            if args.get("prompt") != "none":
                problems.append("prompt")
            if args.get("client_id") != self.client_id:
                problems.append("client_id")
            if args.get("redirect_uri") != f"{self.tool_url}/lti/launch":
                problems.append("redirect_uri")
            pending = self.pending.get(args.get("lti_message_hint", ""))
            if pending is None:
                problems.append("lti_message_hint")
            elif args.get("login_hint") != str(pending.claims.get("sub", "")):
                problems.append("login_hint")
            if not args.get("nonce") or not args.get("state"):
                problems.append("nonce/state")
            if problems:
                return Response("invalid_request: " + ", ".join(problems), status=400)
            assert pending is not None
            claims = dict(pending.claims)
            if pending.mutate:
                pending.mutate(claims)
            token = self.id_token(claims, nonce=args["nonce"], header=pending.header)
            fields = {"id_token": token, "state": args["state"]}
            inputs = "".join(
                f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in fields.items()
            )
            return (
                f'<!doctype html><form id="launch" method="post" '
                f'action="{escape(args["redirect_uri"])}">{inputs}</form>'
                "<script>document.getElementById('launch').submit()</script>"
            )

        @app.get("/course")
        def course() -> Response:
            """A course page embedding the tool, offering its storage to the tool's frame
            (LTI Client Side postMessages: lti.put_data / lti.get_data)."""
            src = escape(request.args.get("src", ""))
            tool_origin = json.dumps(self.tool_url)
            page = f"""<!doctype html><html lang="en"><head><title>Course</title></head>
<body><h1>Course</h1>
<iframe id="tool" title="Tool" src="{src}" width="1000" height="700"></iframe>
<script>
window.ltiStorage = {{}};
window.addEventListener("message", function (event) {{
  var data = event.data || {{}};
  if (event.origin !== {tool_origin}) {{ return; }}
  var reply = {{subject: data.subject + ".response", message_id: data.message_id, key: data.key}};
  if (data.subject === "lti.put_data") {{
    window.ltiStorage[event.origin + " " + data.key] = data.value;
    reply.value = data.value;
  }} else if (data.subject === "lti.get_data") {{
    reply.value = window.ltiStorage[event.origin + " " + data.key];
  }} else {{ return; }}
  event.source.postMessage(reply, event.origin);
}});
</script></body></html>"""
            return Response(page, content_type="text/html; charset=utf-8")

        @app.post("/token")
        def token() -> Response | tuple[Response, int]:
            form = request.form
            if (
                form.get("grant_type") != "client_credentials"
                or form.get("client_assertion_type")
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ):
                return jsonify({"error": "unsupported_grant_type"}), 400
            try:
                claims = self.verify_tool_jwt(form.get("client_assertion", ""), self.token_url)
            except (jwt.InvalidTokenError, LookupError, requests.RequestException) as error:
                return jsonify({"error": "invalid_client", "detail": str(error)}), 401
            if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
                return jsonify({"error": "invalid_client"}), 401
            jti = claims.get("jti")
            if not jti or jti in self.used_jtis:
                return jsonify({"error": "invalid_client", "detail": "jti"}), 401
            self.used_jtis.add(jti)
            scopes = set(form.get("scope", "").split())
            access = secrets.token_urlsafe(24)
            self.access_tokens[access] = scopes
            self.token_requests.append({"scopes": sorted(scopes)})
            return jsonify(
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": " ".join(sorted(scopes)),
                }
            )

        def _require_scope(scope: str) -> None:
            header = request.headers.get("Authorization", "")
            scopes = self.access_tokens.get(header.removeprefix("Bearer ").strip())
            if not header.startswith("Bearer ") or scopes is None:
                abort(401)
            if scope not in scopes:
                abort(403)

        @app.get("/nrps/<context>")
        def nrps(context: str) -> Response:
            _require_scope(NRPS_SCOPE)
            members = self.members.get(context, [])
            page = int(request.args.get("page", "1"))
            size = self.nrps_page_size
            chunk = members[(page - 1) * size : page * size]
            body = {
                "id": request.base_url,
                "context": {"id": context, "label": "BGDC", "title": "BGDC 2026"},
                "members": chunk,
            }
            response = Response(
                json.dumps(body),
                content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
            )
            if page * size < len(members):
                rel = moodle_rel_next() if self.nrps_moodle_quotes else '"next"'
                response.headers["Link"] = f"<{request.base_url}?page={page + 1}>; rel={rel}"
            return response

        @app.post("/deep_link_return")
        def deep_link_return() -> Response | tuple[str, int]:
            try:
                claims = self.verify_tool_jwt(request.form.get("JWT", ""), self.issuer)
            except (jwt.InvalidTokenError, LookupError) as error:
                return f"invalid deep linking response: {error}", 400
            problems = []
            if claims.get("iss") != self.client_id:
                problems.append("iss")
            if claims.get(LTI + "message_type") != "LtiDeepLinkingResponse":
                problems.append("message_type")
            if claims.get(LTI + "version") != "1.3.0":
                problems.append("version")
            if claims.get(LTI + "deployment_id") != self.deployment_id:
                problems.append("deployment_id")
            if claims.get(DL + "data") != json.dumps(self.deep_link_data):
                problems.append("data")
            if problems:
                return "invalid deep linking response: " + ", ".join(problems), 400
            self.deep_link_responses.append(claims)
            return Response("<p>content placed</p>")

        @app.get("/.well-known/openid-configuration")
        def openid_configuration() -> Response:
            return jsonify(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": self.auth_url,
                    "token_endpoint": self.token_url,
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                    "jwks_uri": self.jwks_url,
                    "registration_endpoint": f"{self.url}/register",
                    "scopes_supported": ["openid", NRPS_SCOPE],
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public", "pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "claims_supported": [
                        "sub",
                        "iss",
                        "name",
                        "given_name",
                        "family_name",
                        "email",
                    ],
                    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                        "product_family_code": "moodle",
                        "version": "4.5",
                        "messages_supported": [
                            {"type": "LtiResourceLinkRequest"},
                            {"type": "LtiDeepLinkingRequest"},
                        ],
                        "variables": [],
                    },
                }
            )

        @app.post("/register")
        def register() -> Response | tuple[Response, int]:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if token not in self.registration_tokens:
                return jsonify({"error": "invalid_token"}), 401
            self.registration_tokens.discard(token)  # single use, as Moodle
            body = request.get_json(silent=True) or {}
            problems = moodle_registration_problems(body)
            if problems:
                return jsonify({"error": "invalid_client_metadata", "problems": problems}), 400
            self.registrations.append(body)
            client_id = self.registration_client_id or "".join(
                secrets.choice(string.ascii_letters) for _ in range(15)
            )
            self.last_client_id = client_id
            deployment_id = str(len(self.registrations))
            answer = dict(body)
            answer["client_id"] = client_id
            tool_config = dict(body["https://purl.imsglobal.org/spec/lti-tool-configuration"])
            tool_config["deployment_id"] = deployment_id
            answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = tool_config
            return jsonify(answer)

        return app

    def new_registration_token(self) -> str:
        token = secrets.token_urlsafe(16)
        self.registration_tokens.add(token)
        return token

    def registration_start_url(self, token: str | None) -> str:
        params = {"openid_configuration": self.openid_configuration_url}
        if token:
            params["registration_token"] = token
        return f"{self.tool_url}/lti/register?{urlencode(params)}"


class _Drop:
    """Marker: leave this claim or header field out of the minted token."""

    def __repr__(self) -> str:
        return "DROP"


_DROP = _Drop()
DROP: Any = _DROP


def moodle_registration_problems(body: dict[str, Any]) -> list[str]:
    """What Moodle's openid-registration.php refuses (mod/lti/classes/local/ltiopenid)."""
    from urllib.parse import urlsplit

    problems = []
    if "id_token" not in (body.get("response_types") or []):
        problems.append("response_types")
    for name in ("initiate_login_uri", "client_name", "jwks_uri"):
        if not body.get(name):
            problems.append(name)
    if not isinstance(body.get("redirect_uris"), list) or not body["redirect_uris"]:
        problems.append("redirect_uris")
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        problems.append("token_endpoint_auth_method")
    config = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration")
    if not isinstance(config, dict):
        problems.append("lti-tool-configuration")
    else:
        target = config.get("target_link_uri") or ""
        if not config.get("domain") or urlsplit(target).netloc != config.get("domain"):
            problems.append("domain")
    return problems


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool-url", required=True)
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    platform = TestPlatform(args.tool_url, port=args.port).start()
    print(f"Test LMS at {platform.url}; register it with:\n  {platform.cli_add_command()}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        platform.stop()


if __name__ == "__main__":
    main()
