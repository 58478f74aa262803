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
import time
import uuid
from datetime import datetime, timedelta

import jwt
import requests
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool.exceptions import LtiToolError
from lti_tool.keys import signing_key
from lti_tool.models.platform import Platform
from lti_tool.models.platform_token import PlatformAccessToken
from referentiel.orm import utcnow

log = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds
EXPIRY_MARGIN = timedelta(seconds=30)  # never hand out a token about to expire
DEFAULT_EXPIRES_IN = 3600  # when the platform does not say (RFC 6749 §5.1 makes it optional)


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
    """Retry-After as seconds (RFC 9110 §10.2.3: delay-seconds; an HTTP date is read too)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - utcnow()).total_seconds())


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
        response = client.post(
            platform.auth_token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=timeout,
        )
    except requests.Timeout as error:
        raise PlatformTokenError(f"token endpoint timed out: {error}", retryable=True) from error
    except requests.ConnectionError as error:
        raise PlatformTokenError(
            f"token endpoint unreachable: {type(error).__name__}", retryable=True
        ) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise PlatformTokenError(
            f"token endpoint answered {response.status_code}",
            retryable=True,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if response.status_code != 200:
        # RFC 6749 §5.2: error and error_description say why (invalid_client...).
        reason = _oauth_error(response)
        raise PlatformTokenError(
            f"token endpoint refused ({response.status_code}): {reason}", retryable=False
        )
    try:
        body = response.json()
        token = str(body["access_token"])
        expires_in = int(body.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (ValueError, KeyError, TypeError) as error:
        raise PlatformTokenError(
            "token endpoint answered without an access_token", retryable=True
        ) from error
    expires_at = utcnow() + timedelta(seconds=expires_in)
    _store(session, platform.id, scope, token, expires_at)
    log.info("new access token for platform %s (%s), valid %ss", platform.id, scope, expires_in)
    return token


def _oauth_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return " ".join(str(body.get(k, "")) for k in ("error", "error_description")).strip()


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
