"""OAuth2 access tokens for the platform's services (AGS, NRPS), shared through the database.

1EdTech Security Framework 1.0 §4.1 (Using JSON Web Tokens with OAuth 2.0 Client
Credentials Grant) and RFC 7523 §2.2: the tool asks the platform's token endpoint
with ``grant_type=client_credentials``, a ``client_assertion`` JWT signed with the
tool's private key (``iss`` and ``sub`` the client id, ``aud`` the token endpoint or
the platform's declared audience, a unique ``jti``, short ``exp``) and the scopes it
needs. The token is kept in the database until shortly before it expires, so every
web process and worker reuses it instead of asking again.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import jwt
import requests
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.bounded_http import read_bounded
from lti_tool.exceptions import LtiToolError
from lti_tool.keys import signing_key
from lti_tool.models.platform import Platform
from lti_tool.models.platform_token import PlatformAccessToken
from referentiel.orm import utcnow
from xapi import json_text

log = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds
EXPIRY_MARGIN = timedelta(seconds=30)  # never hand out a token about to expire
DEFAULT_EXPIRES_IN = 3600  # when the platform does not say (RFC 6749 §5.1 makes it optional)
MIN_EXPIRES_IN = 1
MAX_EXPIRES_IN = 86400  # a longer promise is kept for a day: a revoked token is asked again
MAX_TOKEN_LENGTH = 4096
MAX_TOKEN_ANSWER_BYTES = 1024 * 1024  # a token answer is a few hundred bytes
MAX_RETRY_AFTER = 86400.0  # a longer Retry-After is read as a day (the worker caps it lower)


class PlatformTokenError(LtiToolError):
    """The platform gave no token; ``retryable`` says whether asking later may help."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def scope_key(scopes: list[str] | tuple[str, ...] | set[str]) -> str:
    return " ".join(sorted(set(scopes)))


def client_assertion(session: Session, platform: Platform) -> str:
    """The signed JWT that authenticates the tool to the platform (RFC 7523 §3)."""
    key = signing_key(session)
    now = int(time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_audience or platform.auth_token_url,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date).

    An invalid value is None (the caller's own backoff applies); a valid one is
    between 0 and ``MAX_RETRY_AFTER``. delay-seconds is ASCII digits only:
    ``str.isdigit`` also accepts "²", which ``float`` refuses.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)  # 400 digits make inf: min keeps it bounded
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322 says unknown zone; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return min(MAX_RETRY_AFTER, max(0.0, (when - utcnow()).total_seconds()))


def forget(session: Session, platform: Platform, scopes: list[str] | tuple[str, ...]) -> None:
    """Drop a cached token the platform refused (401), so the next call asks again."""
    session.execute(
        delete(PlatformAccessToken).where(
            PlatformAccessToken.platform_id == platform.id,
            PlatformAccessToken.scope == scope_key(scopes),
        )
    )


def access_token(
    session: Session,
    platform: Platform,
    scopes: list[str] | tuple[str, ...],
    *,
    http: requests.Session | None = None,
    timeout: float = 10.0,
) -> str:
    """A valid access token for ``scopes``: the cached one, else a new one (then cached).

    The new token is added to ``session``; the caller commits. Raises
    ``PlatformTokenError`` when the platform refuses or cannot be reached.
    """
    scope = scope_key(scopes)
    cached = session.scalar(
        select(PlatformAccessToken).where(
            PlatformAccessToken.platform_id == platform.id,
            PlatformAccessToken.scope == scope,
            PlatformAccessToken.expires_at > utcnow() + EXPIRY_MARGIN,
        )
    )
    if cached is not None:
        return cached.access_token
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(session, platform),
        "scope": scope,
    }
    client = http or requests.Session()
    try:
        # Never redirected: a 307 would re-POST the signed client assertion elsewhere.
        response = client.post(
            platform.auth_token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        read_bounded(response, max_bytes=MAX_TOKEN_ANSWER_BYTES, seconds=timeout)
    except requests.Timeout as error:
        raise PlatformTokenError(f"token endpoint timed out: {error}", retryable=True) from error
    except requests.ConnectionError as error:
        raise PlatformTokenError(
            f"token endpoint unreachable: {type(error).__name__}", retryable=True
        ) from error
    except requests.RequestException as error:  # an answer larger than any token
        raise PlatformTokenError(f"token endpoint: {error}", retryable=False) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise PlatformTokenError(
            f"token endpoint answered {response.status_code}",
            retryable=True,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if 300 <= response.status_code < 400:
        raise PlatformTokenError(
            f"token endpoint answered a redirect ({response.status_code}), not followed: "
            "set the platform's token URL to the address it redirects to",
            retryable=False,
        )
    if response.status_code != 200:
        # RFC 6749 §5.2: error and error_description say why (invalid_client...).
        reason = _oauth_error(response)
        raise PlatformTokenError(
            f"token endpoint refused ({response.status_code}): {reason}", retryable=False
        )
    token, expires_in = _token_answer(response)
    expires_at = utcnow() + timedelta(seconds=expires_in)
    _store(session, platform.id, scope, token, expires_at)
    log.info("new access token for platform %s (%s), valid %ss", platform.id, scope, expires_in)
    return token


def _token_answer(response: requests.Response) -> tuple[str, float]:
    """The access token and its lifetime in seconds, from a 200 answer (RFC 6749 §5.1).

    ``access_token`` must be a non-empty string of visible ASCII (it goes into an
    Authorization header as is, RFC 6750 §2.1), ``token_type`` Bearer if given,
    ``expires_in`` a finite number if given, kept between ``MIN_EXPIRES_IN`` and
    ``MAX_EXPIRES_IN``.
    """

    def malformed(reason: str) -> PlatformTokenError:
        return PlatformTokenError(f"token endpoint answered {reason}", retryable=True)

    try:
        body = json_text.loads(response.text)
    except ValueError as error:
        raise malformed(f"a body that is not JSON ({error})") from error
    if not isinstance(body, dict):
        raise malformed("something other than a JSON object")
    token = body.get("access_token")
    if (
        not isinstance(token, str)
        or not 0 < len(token) <= MAX_TOKEN_LENGTH
        or not all("!" <= c <= "~" for c in token)
    ):
        raise malformed("no usable access_token (a non-empty string of visible ASCII)")
    token_type = body.get("token_type")
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        raise malformed(f"token_type {str(token_type)[:40]!r}, not Bearer")
    expires_in = body.get("expires_in")
    if expires_in is None:
        return token, DEFAULT_EXPIRES_IN
    if isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit():
        expires_in = min(float(expires_in), MAX_EXPIRES_IN)  # some platforms quote it
    if isinstance(expires_in, int) and not isinstance(expires_in, bool):
        expires_in = min(expires_in, MAX_EXPIRES_IN)  # before float(): 10**400 is an int
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
    ):
        raise malformed("an expires_in that is not a finite number")
    return token, float(min(MAX_EXPIRES_IN, max(MIN_EXPIRES_IN, expires_in)))


def _oauth_error(response: requests.Response) -> str:
    """The platform's reason for a refusal (RFC 6749 §5.2), whatever the body holds."""
    try:
        body = json_text.loads(response.text)
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return response.text[:200]
    reason = " ".join(str(body.get(k, ""))[:200] for k in ("error", "error_description"))
    return reason.strip()


def _store(
    session: Session, platform_id: int, scope: str, token: str, expires_at: datetime
) -> None:
    existing = session.scalar(
        select(PlatformAccessToken).where(
            PlatformAccessToken.platform_id == platform_id, PlatformAccessToken.scope == scope
        )
    )
    if existing is not None:
        existing.access_token = token
        existing.expires_at = expires_at
        existing.obtained_at = utcnow()
        return
    try:
        with session.begin_nested():
            session.add(
                PlatformAccessToken(
                    platform_id=platform_id, scope=scope, access_token=token, expires_at=expires_at
                )
            )
    except IntegrityError:
        # Another worker stored one at the same moment: theirs is as good as ours.
        pass
