"""Tool keys: created on first use, rotated with the old key still published."""

from __future__ import annotations

import jwt
from sqlalchemy.orm import Session

from lti_tool import keys


def test_first_signing_key_is_created_once(session: Session) -> None:
    first = keys.signing_key(session)
    assert keys.signing_key(session).kid == first.kid
    assert [k["kid"] for k in keys.published_jwks(session)["keys"]] == [first.kid]


def test_rotation_signs_with_new_key_and_keeps_old_one_published(session: Session) -> None:
    old = keys.signing_key(session)
    new = keys.rotate(session)
    assert keys.signing_key(session).kid == new.kid
    assert {k["kid"] for k in keys.published_jwks(session)["keys"]} == {old.kid, new.kid}
    keys.retire(session, old.kid)
    assert [k["kid"] for k in keys.published_jwks(session)["keys"]] == [new.kid]


def test_published_key_verifies_what_the_signing_key_signs(session: Session) -> None:
    key = keys.signing_key(session)
    token = jwt.encode({"sub": "x"}, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
    public = jwt.PyJWK(keys.published_jwks(session)["keys"][0])
    assert jwt.decode(token, public.key, algorithms=["RS256"])["sub"] == "x"
    assert "d" not in keys.published_jwks(session)["keys"][0]  # never the private part
