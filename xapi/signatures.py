"""Signed statements (xAPI 1.0.3 Data §2.6).

A signature is an attachment with usageType ``.../attachments/signature`` and content
type ``application/octet-stream`` whose content is a JWS (RFC 7515, compact form)
using RS256, RS384 or RS512, whose payload is the statement as it was before the
signature attachment was added. When the JWS header carries an ``x5c`` certificate
chain, the signature is verified with the first certificate's key; without one the
LRS has no key to check it against, so only its form and payload are checked.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography import x509

from xapi import json_text
from xapi.comparison import same_statement
from xapi.exceptions import BadRequest

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
ALGORITHMS = ("RS256", "RS384", "RS512")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_signature(statement: Mapping[str, Any], contents: Mapping[str, bytes], path: str) -> None:
    """Raise :class:`BadRequest` when a signature attachment of ``statement`` is not a
    valid JWS of it. ``contents`` are the request's attachment parts by sha2."""
    attachments = statement.get("attachments") or []
    signatures = [a for a in attachments if a.get("usageType") == SIGNATURE_USAGE]
    for attachment in signatures:
        where = f"{path}.attachments (signature)"
        if str(attachment.get("contentType", "")).split(";")[0].strip() != (
            "application/octet-stream"
        ):
            raise BadRequest(f"{where}: a signature's contentType is application/octet-stream")
        content = contents.get(str(attachment.get("sha2", "")).lower())
        if content is None:
            raise BadRequest(f"{where}: the signature itself is not in the request")
        try:
            token = content.decode("ascii").strip()
            header_b64, payload_b64, _signature = token.split(".")
            header = json_text.loads(_b64decode(header_b64))
            payload = json_text.loads(_b64decode(payload_b64))
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(f"{where}: not a JWS with a JSON payload (RFC 7515)") from None
        if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
            raise BadRequest(f"{where}: the JWS algorithm must be RS256, RS384 or RS512")
        if not isinstance(payload, dict):
            raise BadRequest(f"{where}: the JWS payload must be the statement")
        if header.get("x5c"):
            _verify(token, header)
        unsigned = dict(statement)
        remaining = [a for a in attachments if a is not attachment]
        if remaining:
            unsigned["attachments"] = remaining
        else:
            unsigned.pop("attachments", None)
        original = dict(payload)
        if "attachments" in original and not original["attachments"]:
            original.pop("attachments")
        if not same_statement(original, unsigned):
            raise BadRequest(f"{where}: the JWS payload differs from the statement")


def _verify(token: str, header: Mapping[str, Any]) -> None:
    try:
        der = base64.b64decode(header["x5c"][0])
        key = x509.load_der_x509_certificate(der).public_key()
        jwt.PyJWS().decode(token, key=key, algorithms=[header["alg"]])  # type: ignore[arg-type]
    except Exception:
        raise BadRequest(
            "the statement's signature does not verify with its x5c certificate"
        ) from None
