"""OIDC third-party login and message launch validation on top of pylti1p3.

pylti1p3 does the protocol; this module supplies the database store and closes the
library's gaps (1EdTech Security Framework 1.0 §5.1.3, LTI 1.3 Core §5.1):

- the nonce is consumed (used once) and must be the one issued for this state;
- the state is single-use and bound to the browser (cookie, or the platform's
  storage through LTI Client Side postMessages when cookies are blocked);
- ``aud`` must name the client id, and ``azp`` is required when ``aud`` is a list
  of several, and must equal the client id when present;
- ``exp`` and ``iat`` are required, with a small clock-skew leeway;
- only RS256, a ``kid`` that the platform's key set holds;
- only the message types the tool handles;
- the platform's key set is fetched with a timeout, a size cap and no redirect to
  another server, and cached only when well shaped; its signing key must be an RSA
  key of at least 2048 bits (:mod:`lti_tool.platform_keys`);
- claims the tool reads have their JSON shape (objects are objects, ids fit their
  columns, return URLs are http(s)).

Every refusal raises :class:`LaunchRejected` with a reason for the person and the log.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import jwt
from flask import current_app, request
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.registration import TKeySet

from lti_tool import keys, platform_keys
from lti_tool.database import db
from lti_tool.exceptions import LaunchRejected
from lti_tool.launch_storage import DatabaseLaunchDataStorage, ToolSessionService, purge_expired
from lti_tool.models.platform import Platform
from lti_tool.tool_conf import DatabaseToolConf
from xapi import json_text

log = logging.getLogger(__name__)

CLOCK_SKEW = 60  # seconds allowed between the platform's clock and ours
STATE_LIFETIME = 10 * 60  # seconds between login and launch
KEY_SET_CACHE = 60 * 60  # seconds a platform key set is reused
DEEP_LINKING_LIFETIME = 60 * 60  # seconds an instructor has to pick what to place
ACCEPTED_ALGORITHMS = ("RS256",)  # Security Framework §6.1: RSA with SHA-256
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
# Claims that are JSON objects when present (Core §5.3, §5.4; Deep Linking §4.4.1;
# NRPS §3.6.1; AGS §3.1).
OBJECT_CLAIMS = (
    CLAIM + "resource_link",
    CLAIM + "context",
    CLAIM + "tool_platform",
    CLAIM + "launch_presentation",
    CLAIM + "lis",
    CLAIM + "custom",
    "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice",
    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint",
    DL_SETTINGS,
)
# Identifiers the tool stores in columns of 255 characters (Core §5.3.6 gives
# user ids 255 ASCII characters at most; §5.3.5, §5.4.1 keep ids short too).
MAX_ID_LENGTH = 255


def _sessions() -> Any:
    return current_app.extensions["database"]["sessionmaker"]


def launch_storage() -> DatabaseLaunchDataStorage:
    return DatabaseLaunchDataStorage(_sessions())


def session_service() -> ToolSessionService:
    return ToolSessionService(launch_storage())


def launch_url() -> str:
    """The redirect URI registered with platforms (exact match required)."""
    return f"{current_app.config['BASE_URL']}/lti/launch"


class ToolOIDCLogin(FlaskOIDCLogin):
    """Third-party initiated login (LTI 1.3 Core §5.1.1; Security Framework §5.1.1)."""

    def __init__(self, tool_conf: DatabaseToolConf) -> None:
        self.sessions = session_service()
        super().__init__(FlaskRequest(), tool_conf, session_service=self.sessions)
        self.set_launch_data_lifetime(STATE_LIFETIME)
        self.state: str | None = None
        self.nonce: str | None = None

    def validate_oidc_login(self) -> Any:
        try:
            registration = super().validate_oidc_login()
        except OIDCException as error:
            iss = self._get_request_param("iss")
            if not iss:
                raise LaunchRejected("Login refused: the request names no issuer (iss).") from error
            if not self._get_request_param("login_hint"):
                raise LaunchRejected("Login refused: the request has no login_hint.") from error
            raise LaunchRejected(
                "Login refused: this platform (issuer and client id) is not registered with "
                "the tool, or its registration is not active."
            ) from error
        target = self._get_request_param("target_link_uri")
        base = current_app.config["BASE_URL"]
        if target and not (target == base or target.startswith(base + "/")):
            # Core §5.1.1.1: the tool MUST check target_link_uri is one of its own.
            raise LaunchRejected("Login refused: target_link_uri is not an address of this tool.")
        return registration

    def authorization_url(self, storage_target: str | None) -> str:
        """Validate the login, issue a state and nonce, and return the platform's
        authorization URL (the browser goes there next)."""
        purge_expired(self.sessions.data_storage.sessions)
        url = self._prepare_redirect_url(launch_url())
        query = parse_qs(urlsplit(url).query)
        self.state, self.nonce = query["state"][0], query["nonce"][0]
        self.sessions.save_state_params(
            self.state,
            {
                "nonce": self.nonce,
                "storage_target": storage_target or None,
                "platform_origin": origin(self._registration.get_auth_login_url() or ""),
            },
        )
        return url

    @property
    def platform(self) -> Platform:
        platform = self._tool_config.platform
        assert platform is not None, "validate_oidc_login found it"
        return platform

    def cookie_response(self, response: Any) -> Any:
        """Attach the state cookie pylti1p3 prepared to our own response."""
        self._cookie_service.update_response(response)
        return response


class ToolMessageLaunch(FlaskMessageLaunch):
    """An id_token POSTed to /lti/launch, validated with the gaps closed."""

    def __init__(
        self,
        tool_conf: DatabaseToolConf,
        *,
        state_confirmed: str | None = None,
        request_data: dict[str, Any] | None = None,
    ) -> None:
        self.sessions = session_service()
        super().__init__(
            FlaskRequest(request_data=request_data),
            tool_conf,
            session_service=self.sessions,
            requests_session=platform_keys.TimeoutSession(_platform_timeout()),
        )
        self.tool_conf = tool_conf
        self._state_confirmed = state_confirmed
        self._expected_nonce: str | None = None
        self.set_public_key_caching(launch_storage(), cache_lifetime=KEY_SET_CACHE)

    # -- order: the nonce is consumed only once the signature is known good, so
    # a forged token cannot burn a genuine nonce.
    def validate(self) -> ToolMessageLaunch:
        if self._restored:
            raise LaunchRejected("A restored launch cannot be validated again.")
        self._validated = True
        try:
            (
                self.validate_state()
                .validate_jwt_format()
                .validate_registration()
                .validate_jwt_signature()
                .validate_nonce()
                .validate_deployment()
                .validate_message()
                .save_launch_data()
            )
        except LtiException as error:
            self._validated = False
            raise LaunchRejected(f"Launch refused: {error}") from error
        except Exception:
            self._validated = False
            raise
        return self

    def validate_state(self) -> ToolMessageLaunch:
        state = self._get_request_param("state")
        if not state:
            raise LaunchRejected("Launch refused: the state parameter is missing.")
        params = self.sessions.pop_state_params(state)
        if params is None:
            raise LaunchRejected(
                "Launch refused: unknown, expired or already used state. Open the tool "
                "again from the course."
            )
        from_cookie = self._cookie_service.get_cookie(state)
        if from_cookie != state and self._state_confirmed != state:
            raise LaunchRejected(
                "Launch refused: the state does not match this browser's login (state "
                "mismatch; the browser may block the tool's cookies). Open the tool again "
                "from the course."
            )
        self._expected_nonce = str(params.get("nonce") or "")
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        id_token = self._get_id_token()
        if id_token.count(".") != 2:
            raise LaunchRejected("Launch refused: the id_token is not a three-part JWT.")
        super().validate_jwt_format()
        header = self._jwt.get("header", {})
        alg = header.get("alg")
        if alg not in ACCEPTED_ALGORITHMS:
            raise LaunchRejected(
                f"Launch refused: the id_token is signed with {alg!r}; only RS256 is accepted."
            )
        if not header.get("kid"):
            raise LaunchRejected("Launch refused: the id_token header has no kid.")
        body = self._jwt.get("body")
        if not isinstance(body, dict):
            raise LaunchRejected("Launch refused: the id_token body is not a JSON object.")
        # Text no database stores, refused alike on SQLite and PostgreSQL.
        if json_text.holds_surrogate(body) or json_text.holds_surrogate(header):
            # No Unicode character (I-JSON, RFC 7493 §2.1): neither stored nor shown.
            raise LaunchRejected(
                "Launch refused: the id_token holds a lone surrogate (a \\uD800-\\uDFFF "
                "escape without its pair), which is not a Unicode character."
            )
        if json_text.holds_nul(body):
            raise LaunchRejected(
                "Launch refused: the id_token holds a NUL character, which no text may hold."
            )
        return self

    def get_client_id(self) -> str:
        body = self._get_jwt_body()
        aud = body.get("aud")
        azp = body.get("azp")
        audiences = aud if isinstance(aud, list) else [aud] if isinstance(aud, str) else []
        if not audiences or not all(isinstance(a, str) and a for a in audiences):
            raise LaunchRejected("Launch refused: the id_token has no audience (aud).")
        if azp is not None:
            # Security Framework §5.1.3 step 4-5: azp, when present, is our client id.
            if not isinstance(azp, str) or azp not in audiences:
                raise LaunchRejected("Launch refused: azp is not one of the token's audiences.")
            return azp
        if len(audiences) > 1:
            raise LaunchRejected(
                "Launch refused: the token names several audiences and no azp claim."
            )
        return audiences[0]

    def validate_registration(self) -> ToolMessageLaunch:
        try:
            super().validate_registration()
        except LtiException as error:
            raise LaunchRejected(
                "Launch refused: unknown issuer or client id (no active registration matches "
                "the token's iss and aud/azp)."
            ) from error
        return self

    def fetch_public_key(self, key_set_url: str) -> TKeySet:
        """The platform's key set: the cached one if well shaped, else fetched with a
        timeout and a size cap, checked, then cached (pylti1p3 cached any JSON answer,
        an error page included, for the cache's lifetime)."""
        storage = self._public_key_cache_data_storage
        cache_key = _key_set_cache_key(key_set_url)
        if isinstance(storage, DatabaseLaunchDataStorage):
            cached = storage.get_value(cache_key)
            if platform_keys.is_key_set(cached):
                return cast(TKeySet, cached)
        key_set = platform_keys.fetch_key_set(
            key_set_url, self._requests_session, _platform_timeout()
        )
        if isinstance(storage, DatabaseLaunchDataStorage):
            storage.set_value(cache_key, key_set, exp=KEY_SET_CACHE)
        return cast(TKeySet, key_set)

    def get_public_key(self) -> tuple[str, str]:
        assert self._registration is not None
        url = self._registration.get_key_set_url() or ""
        if not url.startswith(("http://", "https://")):
            raise LaunchRejected("Launch refused: the platform's key set URL is not http(s).")
        kid = self._jwt.get("header", {}).get("kid")
        key = self._signing_key(url, kid)
        if key is None:
            # The platform may have rotated its keys since the key set was cached:
            # forget the cached set and fetch it once more.
            self._registration.set_key_set(None)
            storage = self._public_key_cache_data_storage
            if isinstance(storage, DatabaseLaunchDataStorage):
                storage.pop_value(_key_set_cache_key(url))
            key = self._signing_key(url, kid)
        if key is None:
            raise LaunchRejected(
                f"Launch refused: the platform's key set has no RS256 key with kid {kid!r}."
            )
        return platform_keys.rsa_public_pem(url, key), "RS256"

    def _signing_key(self, url: str, kid: Any) -> dict[str, Any] | None:
        """The key of the set that has this kid and is meant for RS256, if any."""
        assert self._registration is not None
        key_set = self._registration.get_key_set() or self.fetch_public_key(url)
        self._registration.set_key_set(key_set)
        keys: list[dict[str, Any]] = cast(list[dict[str, Any]], key_set["keys"])
        for key in keys:
            if key.get("kid") == kid and key.get("alg", "RS256") in ACCEPTED_ALGORITHMS:
                return key
        return None

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        public_key, _alg = self.get_public_key()
        client_id = self.get_client_id()
        try:
            jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=list(ACCEPTED_ALGORITHMS),
                audience=client_id,
                issuer=self.get_iss(),
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise LaunchRejected("Launch refused: the id_token has expired (exp).") from error
        except jwt.ImmatureSignatureError as error:
            raise LaunchRejected(
                "Launch refused: the id_token is issued in the future (iat beyond the "
                "allowed clock skew)."
            ) from error
        except jwt.MissingRequiredClaimError as error:
            raise LaunchRejected(
                f"Launch refused: the id_token lacks the required {error.claim!r} claim."
            ) from error
        except jwt.InvalidAudienceError as error:
            raise LaunchRejected(
                "Launch refused: the id_token's audience (aud) is not this tool's client id."
            ) from error
        except jwt.InvalidSignatureError as error:
            raise LaunchRejected("Launch refused: the id_token signature is invalid.") from error
        except jwt.InvalidTokenError as error:
            raise LaunchRejected(f"Launch refused: invalid id_token ({error}).") from error
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        nonce = self._get_jwt_body().get("nonce")
        if not nonce:
            raise LaunchRejected("Launch refused: the id_token has no nonce.")
        if not self.sessions.check_nonce(str(nonce)):
            raise LaunchRejected("Launch refused: the nonce was already used or never issued.")
        if nonce != self._expected_nonce:
            raise LaunchRejected("Launch refused: the nonce is not the one issued for this login.")
        return self

    def validate_deployment(self) -> ToolMessageLaunch:
        deployment_id = self._get_jwt_body().get(CLAIM + "deployment_id")
        if not deployment_id:
            raise LaunchRejected("Launch refused: the deployment_id claim is missing.")
        if not isinstance(deployment_id, str) or len(deployment_id) > MAX_ID_LENGTH:
            # Core §5.3.3; pylti1p3 would look any value up in the database.
            raise LaunchRejected(
                f"Launch refused: the deployment_id claim is not a string of at most "
                f"{MAX_ID_LENGTH} characters (LTI 1.3 Core §5.3.3)."
            )
        try:
            super().validate_deployment()
        except LtiException as error:
            raise LaunchRejected(
                "Launch refused: unknown deployment_id for this registration."
            ) from error
        return self

    def validate_message(self) -> ToolMessageLaunch:
        body = self._get_jwt_body()
        if not body.get("sub"):
            raise LaunchRejected("Launch refused: the sub claim is missing or empty.")
        version = body.get(CLAIM + "version")
        if version is None:
            raise LaunchRejected("Launch refused: the LTI version claim is missing.")
        if version != "1.3.0":
            raise LaunchRejected(f"Launch refused: LTI version {version!r}; 1.3.0 is expected.")
        message_type = body.get(CLAIM + "message_type")
        if not message_type:
            raise LaunchRejected("Launch refused: the message_type claim is missing.")
        if message_type not in MESSAGE_TYPES:
            raise LaunchRejected(f"Launch refused: unsupported message type {message_type!r}.")
        if not isinstance(body.get(CLAIM + "roles"), list):
            raise LaunchRejected("Launch refused: the roles claim is missing.")
        if message_type == "LtiResourceLinkRequest":
            link = body.get(CLAIM + "resource_link")
            if not isinstance(link, dict) or not link.get("id"):
                raise LaunchRejected("Launch refused: the resource_link id is missing.")
        _check_claim_shapes(cast(dict[str, Any], body))
        if message_type == "LtiDeepLinkingRequest":
            _check_deep_linking_settings(body.get(DL_SETTINGS))
        super().validate_message()
        return self

    def save_launch_data(self) -> ToolMessageLaunch:
        """Keep the validated claims only where a later request needs them (the Deep
        Linking choice), and briefly: they hold names and emails. pylti1p3 would keep
        every launch for a day, plus a state marker the tool never reads."""
        body = self._get_jwt_body()
        if body.get(CLAIM + "message_type") == "LtiDeepLinkingRequest":
            self.sessions.data_storage.set_value(
                self._launch_id, dict(body), exp=DEEP_LINKING_LIFETIME
            )
        return self

    @property
    def claims(self) -> dict[str, Any]:
        return dict(self._get_jwt_body())


def _check_claim_shapes(body: dict[str, Any]) -> None:
    """Each claim the tool reads has the JSON type the specifications give it."""
    sub = body.get("sub")
    if not isinstance(sub, str):
        raise LaunchRejected("Launch refused: the sub claim is not a string.")
    if len(sub) > MAX_ID_LENGTH:
        raise LaunchRejected(
            f"Launch refused: the sub claim is longer than {MAX_ID_LENGTH} characters "
            "(LTI 1.3 Core §5.3.6)."
        )
    for name in OBJECT_CLAIMS:
        if name in body and not isinstance(body[name], dict):
            raise LaunchRejected(f"Launch refused: the claim {name} is not a JSON object.")
    for name in ("resource_link", "context"):
        claim = body.get(CLAIM + name)
        if claim is None or "id" not in claim:
            continue
        if not isinstance(claim["id"], str) or len(claim["id"]) > MAX_ID_LENGTH:
            raise LaunchRejected(
                f"Launch refused: the {name} id is not a string of at most "
                f"{MAX_ID_LENGTH} characters."
            )
    presentation = body.get(CLAIM + "launch_presentation") or {}
    if "return_url" in presentation and not _is_web_url(presentation["return_url"]):
        raise LaunchRejected(
            "Launch refused: launch_presentation return_url is not an http(s) URL."
        )


def _check_deep_linking_settings(settings: Any) -> None:
    """Deep Linking 2.0 §4.4.1: the settings object and its return URL, where the
    tool's page will send the browser (only http(s): a javascript: URL would run)."""
    if not isinstance(settings, dict):
        raise LaunchRejected(
            "Launch refused: the deep_linking_settings claim is missing or not an object."
        )
    if not _is_web_url(settings.get("deep_link_return_url")):
        raise LaunchRejected(
            "Launch refused: deep_link_return_url is missing or is not an http(s) URL."
        )
    for name in ("accept_types", "accept_presentation_document_targets"):
        value = settings.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LaunchRejected(f"Launch refused: deep_linking_settings {name} is not a list.")


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _key_set_cache_key(url: str) -> str:
    """pylti1p3's name for a cached key set."""
    return "key-set-url-" + hashlib.md5(url.encode()).hexdigest()  # noqa: S324


def _platform_timeout() -> float:
    return float(current_app.config["PLATFORM_TIMEOUT_SECONDS"])


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as the browser's window messages name it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def new_tool_conf() -> DatabaseToolConf:
    session = db.session
    # The first tool key is written and committed now: the launch store writes on its
    # own connection, and SQLite would make it wait for this session's open write.
    keys.signing_key(session)
    session.commit()
    return DatabaseToolConf(session)


def request_is_iframe() -> bool:
    """Fetch metadata says whether the browser loads this page in a frame."""
    return request.headers.get("Sec-Fetch-Dest") == "iframe"
