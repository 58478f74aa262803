"""A platform's public key set (JWKS, RFC 7517 §5), fetched and read for a launch.

The platform publishes the keys that sign its id_tokens (Security Framework 1.0
§6.3). The fetch is bounded: a timeout on every request, a cap on the body, and no
redirect to another server. A key set that is not an object holding a list of keys
(each an object with its ``kty``) is refused, and so is a signing key that is not an
RSA key of at least 2048 bits (RFC 7518 §3.3), so that a bad answer is a clear launch
refusal and is never cached.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lti_tool.bounded_http import AnswerTooLarge, AnswerTooSlow, read_bounded
from lti_tool.exceptions import LaunchRejected
from xapi import json_text

MAX_KEY_SET_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
MIN_RSA_BITS = 2048  # RFC 7518 §3.3: a key of 2048 bits or larger MUST be used


class KeySetUnreadable(LaunchRejected):
    """The platform's key set could not be fetched or read."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Launch refused: the platform's key set at {url} is unreadable: {reason}")


class TimeoutSession(requests.Session):
    """A requests session whose every request has a timeout unless one is given."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def fetch_key_set(url: str, http: requests.Session, timeout: float) -> dict[str, Any]:
    """The key set at ``url``, read and checked; :class:`KeySetUnreadable` otherwise."""
    response = _get(url, http, timeout)
    try:
        if not 200 <= response.status_code < 300:
            raise KeySetUnreadable(url, f"the server answered HTTP {response.status_code}")
        body = _read_capped(url, response, timeout)
    finally:
        response.close()
    try:
        document = json_text.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeySetUnreadable(url, "the answer is not UTF-8 text") from None
    except json_text.TooDeep:
        raise KeySetUnreadable(url, "the answer is JSON nested too deeply") from None
    except ValueError:
        raise KeySetUnreadable(url, "the answer is not JSON") from None
    check_key_set(url, document)
    return document


def check_key_set(url: str, document: Any) -> None:
    """A key set is an object whose ``keys`` is a list of objects, each with a ``kty``
    (RFC 7517 §4.1, §5.1)."""
    if not isinstance(document, dict):
        raise KeySetUnreadable(url, "the answer is not a JSON object")
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise KeySetUnreadable(url, "it has no list of keys")
    for key in keys:
        if not isinstance(key, dict):
            raise KeySetUnreadable(url, "a key is not a JSON object")
        if not isinstance(key.get("kty"), str) or not key["kty"]:
            raise KeySetUnreadable(url, "a key has no key type (kty)")


def is_key_set(document: Any) -> bool:
    try:
        check_key_set("", document)
    except KeySetUnreadable:
        return False
    return True


def rsa_public_pem(url: str, key: dict[str, Any]) -> str:
    """The PEM of an RS256 key of the set; :class:`LaunchRejected` if it is not an RSA
    key of at least 2048 bits."""
    kid = key.get("kid")
    if key.get("kty") != "RSA":
        raise KeySetUnreadable(url, f"the key {kid!r} is a {key.get('kty')!r} key, not RSA")
    try:
        loaded = jwt.PyJWK(key, algorithm="RS256").key
    except (jwt.exceptions.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise KeySetUnreadable(url, f"the key {kid!r} is not a valid RSA key ({error})") from None
    public = loaded.public_key() if isinstance(loaded, rsa.RSAPrivateKey) else loaded
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeySetUnreadable(url, f"the key {kid!r} is not an RSA public key")
    if public.key_size < MIN_RSA_BITS:
        raise LaunchRejected(
            f"Launch refused: the platform's key {kid!r} is an RSA key of {public.key_size} "
            f"bits; at least {MIN_RSA_BITS} are required (RFC 7518 §3.3)."
        )
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _get(url: str, http: requests.Session, timeout: float) -> requests.Response:
    origin = urlsplit(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(url, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as error:
            raise KeySetUnreadable(url, f"no answer ({type(error).__name__})") from None
        if not response.is_redirect:
            return response
        response.close()
        target = urljoin(url, response.headers.get("Location", ""))
        parts = urlsplit(target)
        if parts.netloc != origin.netloc or parts.scheme not in {origin.scheme, "https"}:
            raise KeySetUnreadable(url, "it redirects to another server")
        url = target
    raise KeySetUnreadable(url, "too many redirects")


def _read_capped(url: str, response: requests.Response, seconds: float) -> bytes:
    try:
        read_bounded(response, max_bytes=MAX_KEY_SET_BYTES, seconds=seconds)
    except AnswerTooLarge:
        raise KeySetUnreadable(
            url, f"the answer is larger than {MAX_KEY_SET_BYTES} bytes"
        ) from None
    except AnswerTooSlow:
        raise KeySetUnreadable(url, "the answer took too long") from None
    except requests.RequestException as error:
        raise KeySetUnreadable(url, f"the answer broke off ({type(error).__name__})") from None
    return response.content
