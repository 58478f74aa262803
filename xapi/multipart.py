"""multipart/mixed bodies carrying statements and their attachments (xAPI 1.0.3
Communication §1.5.2): the first part is the statement JSON, every other part one
attachment's raw content named by its ``X-Experience-API-Hash`` header."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable

from xapi.exceptions import BadRequest
from xapi.statements_store import AttachmentPart

BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or "\r" in line or "\n" in line:
            # A bare CR or LF would end up in a stored value, and in the part headers
            # that serve it back (GET with attachments=true).
            raise BadRequest(f"malformed part header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


MEDIA_TYPE_LIMIT = 255  # the stored Content-Type of attachments and documents
# What a media type is written with (RFC 9110 §8.3.1: tokens and quoted strings):
# printable ASCII, spaces and tabs.
_MEDIA_TYPE_TEXT = re.compile(r"[\t\x20-\x7e]*")


def media_type(value: str) -> str:
    """A Content-Type to store, or 400 when it is longer than the column keeps or holds
    what no header can carry back: a control character (a NUL, which PostgreSQL text
    cannot hold; a line break) or a character beyond ASCII."""
    if len(value) > MEDIA_TYPE_LIMIT:
        raise BadRequest(f"a Content-Type is at most {MEDIA_TYPE_LIMIT} characters")
    if not _MEDIA_TYPE_TEXT.fullmatch(value):
        raise BadRequest(f"a Content-Type is written in printable ASCII characters, not {value!r}")
    return value


def parse_multipart(body: bytes, content_type: str) -> tuple[str, dict[str, AttachmentPart]]:
    """The statement JSON text and the attachment parts by sha2.

    Each part's content must hash (SHA-256, or the SHA-2 length its header names) to its
    ``X-Experience-API-Hash``; :class:`BadRequest` otherwise.
    """
    match = BOUNDARY_RE.search(content_type)
    if not match:
        raise BadRequest("multipart/mixed without a boundary parameter")
    boundary = ("--" + (match.group(1) or match.group(2))).encode("latin-1")
    chunks = body.split(boundary)
    if len(chunks) < 3:
        raise BadRequest("the multipart body has no parts")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            if chunk.startswith(b"\r\n"):
                head, content = b"", chunk[2:]
            else:
                raise BadRequest("a multipart part has no blank line after its headers")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        parts.append((_headers(head), content))
    if not parts:
        raise BadRequest("the multipart body has no parts")
    first_headers, first = parts[0]
    first_type = first_headers.get("content-type", "").split(";")[0].strip().lower()
    if first_type != "application/json":
        raise BadRequest("the first part of a multipart/mixed request must be application/json")
    attachments: dict[str, AttachmentPart] = {}
    for headers, content in parts[1:]:
        declared = headers.get("x-experience-api-hash", "").lower()
        if not declared:
            raise BadRequest("an attachment part has no X-Experience-API-Hash header")
        if headers.get("content-transfer-encoding", "binary").lower() != "binary":
            raise BadRequest("attachment parts must use Content-Transfer-Encoding: binary")
        algorithm = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}.get(len(declared))
        if algorithm is None or hashlib.new(algorithm, content).hexdigest() != declared:
            raise BadRequest(f"attachment part {declared}: its content does not match the hash")
        attachments[declared] = AttachmentPart(
            sha2=declared,
            content_type=media_type(headers.get("content-type", "application/octet-stream")),
            content=content,
        )
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the statement part is not UTF-8") from None
    return text, attachments


def build_multipart(json_text: str, parts: Iterable[AttachmentPart]) -> tuple[bytes, str]:
    """A multipart/mixed body and its Content-Type header value."""
    boundary = secrets.token_hex(16)
    out = [
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(),
        json_text.encode("utf-8"),
        b"\r\n",
    ]
    for part in parts:
        out.append(
            (
                f"--{boundary}\r\nContent-Type: {part.content_type}\r\n"
                f"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {part.sha2}\r\n\r\n"
            ).encode()
        )
        out.append(part.content)
        out.append(b"\r\n")
    out.append(f"--{boundary}--".encode())
    return b"".join(out), f'multipart/mixed; boundary="{boundary}"'
