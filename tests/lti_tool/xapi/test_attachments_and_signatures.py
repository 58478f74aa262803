"""multipart/mixed attachments checked against their sha2, and signed statements
(xAPI 1.0.3 Communication §1.5.2, Data §2.4.11 and §2.6)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from xapi_lrs_client import Lrs

Sample = Callable[[str], dict[str, Any]]
BOUNDARY = "xapi-boundary-42"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def multipart(statement: Any, parts: list[tuple[str, bytes]]) -> bytes:
    out = [f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n".encode()]
    out.append(json.dumps(statement).encode() + b"\r\n")
    for content_type, content in parts:
        sha2 = hashlib.sha256(content).hexdigest()
        out.append(
            f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary"
            f"\r\nX-Experience-API-Hash: {sha2}\r\n\r\n".encode()
        )
        out.append(content + b"\r\n")
    out.append(f"--{BOUNDARY}--".encode())
    return b"".join(out)


def attachment_meta(content: bytes, content_type: str, usage: str) -> dict[str, Any]:
    return {
        "usageType": usage,
        "display": {"fr": "Pièce jointe"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }


def post_multipart(lrs: Lrs, body: bytes) -> Any:
    return lrs.post(body, **{"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"})


CERTIFICATE = b"Certificat de reussite: negociation commerciale"
USAGE = "http://id.tincanapi.com/attachment/certificate-of-completion"


def test_attachment_part_is_stored_and_returned_with_attachments_true(
    lrs: Lrs, sample: Sample
) -> None:
    statement = sample("cmi5_passed")
    statement["attachments"] = [attachment_meta(CERTIFICATE, "text/plain", USAGE)]
    response = post_multipart(lrs, multipart(statement, [("text/plain", CERTIFICATE)]))
    assert response.status_code == 200, response.json
    got = lrs.get(statementId=statement["id"], attachments="true")
    assert got.status_code == 200
    assert got.mimetype == "multipart/mixed"
    assert CERTIFICATE in got.data
    assert hashlib.sha256(CERTIFICATE).hexdigest().encode() in got.data


def test_attachment_whose_content_does_not_match_its_hash_is_400(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    statement["attachments"] = [attachment_meta(CERTIFICATE, "text/plain", USAGE)]
    body = multipart(statement, [("text/plain", CERTIFICATE)]).replace(b"reussite", b"echec!!!")
    assert post_multipart(lrs, body).status_code == 400


def test_an_attachment_content_type_longer_than_kept_is_400(lrs: Lrs, sample: Sample) -> None:
    """Its column keeps 255 characters (PostgreSQL refused more with a 500)."""
    statement = sample("cmi5_passed")
    long_type = "text/plain; note=" + "x" * 250
    statement["attachments"] = [attachment_meta(CERTIFICATE, long_type, USAGE)]
    response = post_multipart(lrs, multipart(statement, [(long_type, CERTIFICATE)]))
    assert response.status_code == 400
    assert "at most 255 characters" in response.json["error"]
    assert lrs.get(statementId=statement["id"]).status_code == 404


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("text/plain\x00x", "printable ASCII"),  # a 500 on PostgreSQL
        # Stored, then served back as a part header of its own with attachments=true.
        ("text/plain\nX-Injected: 1", "malformed part header line"),
    ],
)
def test_an_attachment_part_header_no_header_can_carry_is_400(
    lrs: Lrs, sample: Sample, content_type: str, reason: str
) -> None:
    statement = sample("cmi5_passed")
    statement["attachments"] = [attachment_meta(CERTIFICATE, "text/plain", USAGE)]
    response = post_multipart(lrs, multipart(statement, [(content_type, CERTIFICATE)]))
    assert response.status_code == 400
    assert reason in response.json["error"]
    assert lrs.get(statementId=statement["id"]).status_code == 404


def test_attachment_without_file_url_or_part_is_400(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    statement["attachments"] = [attachment_meta(CERTIFICATE, "text/plain", USAGE)]
    response = lrs.post(statement)
    assert response.status_code == 400
    assert "sha2" in response.json["error"]


def test_attachment_with_file_url_needs_no_part(lrs: Lrs, sample: Sample) -> None:
    statement = sample("cmi5_passed")
    meta = attachment_meta(CERTIFICATE, "text/plain", USAGE)
    meta["fileUrl"] = "https://content.example.org/certificates/42.txt"
    statement["attachments"] = [meta]
    assert lrs.post(statement).status_code == 200


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "content.example.org")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return key, base64.b64encode(der).decode()


def signed(
    statement: dict[str, Any], *, algorithm: str = "RS256", x5c: bool = False
) -> tuple[dict[str, Any], bytes]:
    key, certificate = _key_and_certificate()
    headers = {"x5c": [certificate]} if x5c else None
    secret: Any = key if algorithm.startswith("RS") else "shared-secret-of-32-bytes-or-more!"
    token = jwt.encode(statement, secret, algorithm=algorithm, headers=headers).encode()
    with_signature = dict(statement)
    with_signature["attachments"] = [attachment_meta(token, "application/octet-stream", SIGNATURE)]
    return with_signature, token


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_signed_statement_with_rs_algorithm_is_accepted(
    lrs: Lrs, sample: Sample, algorithm: str
) -> None:
    statement, token = signed(sample("cmi5_passed"), algorithm=algorithm, x5c=True)
    body = multipart(statement, [("application/octet-stream", token)])
    assert post_multipart(lrs, body).status_code == 200


def test_signature_must_use_an_rs_algorithm(lrs: Lrs, sample: Sample) -> None:
    statement, token = signed(sample("cmi5_passed"), algorithm="HS256")
    response = post_multipart(lrs, multipart(statement, [("application/octet-stream", token)]))
    assert response.status_code == 400
    assert "RS256" in response.json["error"]


def test_signature_payload_must_be_the_statement(lrs: Lrs, sample: Sample) -> None:
    statement, token = signed(sample("cmi5_passed"))
    statement["result"] = {"success": False}
    response = post_multipart(lrs, multipart(statement, [("application/octet-stream", token)]))
    assert response.status_code == 400
    assert "payload" in response.json["error"]


def test_signature_must_verify_with_its_certificate(lrs: Lrs, sample: Sample) -> None:
    statement, token = signed(sample("cmi5_passed"), x5c=True)
    header, payload, signature = token.split(b".")
    forged = b".".join([header, payload, signature[:-4] + b"AAAA"])
    statement["attachments"] = [attachment_meta(forged, "application/octet-stream", SIGNATURE)]
    response = post_multipart(lrs, multipart(statement, [("application/octet-stream", forged)]))
    assert response.status_code == 400


def test_signature_attachment_must_be_octet_stream(lrs: Lrs, sample: Sample) -> None:
    statement, token = signed(sample("cmi5_passed"))
    statement["attachments"][0]["contentType"] = "text/plain"
    response = post_multipart(lrs, multipart(statement, [("text/plain", token)]))
    assert response.status_code == 400
