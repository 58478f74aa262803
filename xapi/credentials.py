"""HTTP Basic credentials of activity providers (xAPI 1.0.3 Communication §4).

Why a fast keyed hash and not scrypt or PBKDF2: the secret is generated here, 256
random bits, and never chosen by a person. Slow hashes exist to make guessing
low-entropy passwords expensive; guessing 2^256 values is out of reach whatever the
hash costs, so HMAC-SHA256 with a per-credential salt is as safe for these secrets
and keeps authentication in the microseconds on every statement request (a 100 ms
KDF would cap a worker at ten single-statement POSTs per second). Nothing is cached
in process memory: each request reads the credential row (one Core query, in the
transaction that stores the statements). Comparison is constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from referentiel.orm import utcnow
from xapi.exceptions import CredentialNotFound, InvalidCredential, Unauthorized
from xapi.models import Credential

SCHEME = "hmac-sha256"
TEXT_LIMIT = 255  # the name and platform columns


@dataclass(frozen=True)
class Caller:
    """The credential a request authenticated with: what storage and queries use of it."""

    id: int
    key: str
    name: str
    platform_issuer: str | None


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential and its secret, shown once and never stored in clear."""

    credential: Credential
    secret: str


def _hash(secret: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(16)
    return f"{SCHEME}${salt}${_hash(secret, salt)}"


def secret_matches(secret: str, stored: str) -> bool:
    try:
        scheme, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    return hmac.compare_digest(_hash(secret, salt), expected)


def create_credential(
    session: Session, name: str, platform_issuer: str | None = None
) -> IssuedCredential:
    name = name.strip()
    if not name:
        raise InvalidCredential("a credential needs a name")
    if len(name) > TEXT_LIMIT:
        raise InvalidCredential(f"a credential's name is at most {TEXT_LIMIT} characters")
    issuer = _platform_issuer(platform_issuer) if platform_issuer else None
    secret = secrets.token_urlsafe(32)
    credential = Credential(
        key=secrets.token_hex(12),
        secret_hash=hash_secret(secret),
        name=name,
        platform_issuer=issuer,
    )
    session.add(credential)
    session.flush()
    return IssuedCredential(credential, secret)


def _platform_issuer(value: str) -> str:
    """An LTI issuer is an https URL (http on a test platform), at most TEXT_LIMIT long."""
    issuer = value.strip().rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidCredential(f"the platform must be an issuer URL, not {value!r}")
    if len(issuer) > TEXT_LIMIT:
        raise InvalidCredential(f"a platform issuer is at most {TEXT_LIMIT} characters")
    return issuer


def list_credentials(session: Session) -> Sequence[Credential]:
    return session.scalars(select(Credential).order_by(Credential.id)).all()


def revoke_credential(session: Session, key: str) -> tuple[Credential, bool]:
    """The credential, revoked, and whether it was active until now (revoking twice is
    harmless: a page submitted twice must not fail)."""
    credential = session.scalar(select(Credential).where(Credential.key == key))
    if credential is None:
        raise CredentialNotFound(f"no xAPI credential with key {key!r}")
    was_active = credential.revoked_at is None
    if was_active:
        credential.revoked_at = utcnow()
    return credential, was_active


# Built once: constructing a statement costs more than running this one on SQLite.
_BY_KEY = select(
    Credential.id,
    Credential.key,
    Credential.name,
    Credential.platform_issuer,
    Credential.secret_hash,
    Credential.revoked_at,
).where(Credential.key == bindparam("key"))


def authenticate(db: Session | Connection, key: str, secret: str) -> Caller:
    """The active credential for this key and secret, or :class:`Unauthorized`."""
    if "\x00" in key:  # no key holds one, and PostgreSQL text cannot even be compared with it
        raise Unauthorized("unknown xAPI key or wrong secret")
    row = db.execute(_BY_KEY, {"key": key}).first()
    if row is None or not secret_matches(secret, row.secret_hash):
        raise Unauthorized("unknown xAPI key or wrong secret")
    if row.revoked_at is not None:
        raise Unauthorized("this xAPI credential has been revoked")
    return Caller(row.id, row.key, row.name, row.platform_issuer)


def authority_agent(credential: Caller | Credential, base_url: str) -> dict[str, Any]:
    """The agent stored as ``authority`` of what this credential sends (Data §2.4.9)."""
    return {
        "objectType": "Agent",
        "name": credential.name,
        "account": {"homePage": f"{base_url}/xapi/credentials", "name": credential.key},
    }
