"""The tool's RSA keys (LTI 1.3 Core §6, 1EdTech Security Framework §6.3).

The newest unretired key signs; every unretired key stays published in the JWKS
so that platforms holding an older kid keep verifying during a rotation.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.tool_key import ToolKey
from referentiel.orm import utcnow


def _new_key() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = uuid.uuid4().hex
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return ToolKey(kid=kid, private_pem=pem, public_jwk=jwk)


def active_keys(session: Session) -> list[ToolKey]:
    """Unretired keys, newest first."""
    query = (
        select(ToolKey)
        .where(ToolKey.retired_at.is_(None))
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    )
    return list(session.scalars(query))


def signing_key(session: Session) -> ToolKey:
    """The key that signs tool messages; the first one is created on first use."""
    keys = active_keys(session)
    if keys:
        return keys[0]
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def rotate(session: Session) -> ToolKey:
    """Add a new signing key; older keys stay published until retired."""
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def retire(session: Session, kid: str) -> ToolKey | None:
    key = session.scalar(select(ToolKey).where(ToolKey.kid == kid))
    if key is not None and key.retired_at is None:
        key.retired_at = utcnow()
    return key


def published_jwks(session: Session) -> dict[str, list[dict[str, Any]]]:
    return {"keys": [dict(key.public_jwk) for key in active_keys(session)]}
