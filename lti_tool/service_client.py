"""Calls to a platform's LTI Advantage services (AGS, NRPS) with a bearer token.

Both services page their lists with an RFC 8288 ``Link`` header (``rel="next"``;
Moodle writes the quotes as typographic quotes, so both are read), and both answer
with the same failures: no answer (timeout, connection refused), or an HTTP status,
some worth retrying (429, 5xx) and some not.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from lti_tool.bounded_http import read_bounded
from lti_tool.exceptions import LtiToolError
from lti_tool.platform_token import retry_after_seconds

# The largest answer read from a service: a roster page or a line-item list is far
# smaller (Moodle pages rosters by 100 or so members).
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_NEXT_LINK = re.compile(r"<([^>]+)>\s*;\s*rel\s*=\s*[\"“”']?next[\"“”']?", re.IGNORECASE)


class ServiceCallError(LtiToolError):
    """A service call failed. ``status`` is the HTTP status (None: no answer)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        retryable: bool,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def next_page(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None."""
    if not link_header:
        return None
    # HTTP clients read header bytes as Latin-1: Moodle's UTF-8 quotes arrive as
    # "â\x80\x9c" until decoded again (other text is left as it came).
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        link_header = link_header.encode("latin-1").decode("utf-8")
    match = _NEXT_LINK.search(link_header)
    return match.group(1) if match else None


def follow_pages(
    url: str, get: Callable[[str], requests.Response], max_pages: int
) -> Iterator[requests.Response]:
    """Every page from ``url`` on, following ``rel="next"``; at most ``max_pages``.

    A next link is resolved against the page that gave it and followed only on the
    same server (the bearer token goes nowhere else) and only once (a link back to a
    page already read ends the list instead of reading it again).
    """
    next_url: str | None = url
    seen: set[str] = set()
    while next_url and next_url not in seen and len(seen) < max_pages:
        seen.add(next_url)
        response = get(next_url)
        yield response
        link = next_page(response.headers.get("Link"))
        next_url = urljoin(next_url, link) if link else None
        if next_url and origin(next_url) != origin(url):
            raise ServiceCallError(
                f"the platform's next page is on another server ({next_url[:200]}): "
                "not followed with its token",
                status=None,
                retryable=False,
            )


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of an http(s) URL, the port made explicit (RFC 6454 §4);
    a port that is not a number gives no host, so it matches no other origin."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return (scheme, "", None)
    default = {"http": 80, "https": 443}.get(scheme)
    return (scheme, (parts.hostname or "").lower(), port or default)


class ServiceClient:
    """Calls with one bearer token; every failure becomes a ``ServiceCallError``."""

    def __init__(self, token: str, *, http: requests.Session, timeout: float) -> None:
        self.token = token
        self.http = http
        self.timeout = timeout

    def call(self, method: str, url: str, *, accept: str, **kwargs: Any) -> requests.Response:
        scheme, host, _port = origin(url)
        if scheme not in ("https", "http") or not host:
            raise ServiceCallError(
                f"the platform gave a service address that is not an http(s) URL: {url[:200]!r}",
                status=None,
                retryable=False,
            )
        headers = {"Authorization": f"Bearer {self.token}", "Accept": accept}
        headers.update(kwargs.pop("headers", {}))
        try:
            response = self.http.request(
                method, url, headers=headers, timeout=self.timeout, stream=True, **kwargs
            )
            read_bounded(response, max_bytes=MAX_ANSWER_BYTES, seconds=self.timeout)
        except requests.Timeout as error:
            raise ServiceCallError(f"{method} timed out", status=None, retryable=True) from error
        except requests.ConnectionError as error:
            raise ServiceCallError(
                f"{method} could not reach the platform ({type(error).__name__})",
                status=None,
                retryable=True,
            ) from error
        except requests.RequestException as error:  # redirect loop, undecodable body...
            raise ServiceCallError(
                f"{method} got an answer that cannot be read ({type(error).__name__})",
                status=None,
                retryable=False,
            ) from error
        status = response.status_code
        if status < 300:
            return response
        retryable = status == 429 or status >= 500
        raise ServiceCallError(
            f"{method} {urlsplit(url).path} answered {status}: {response.text[:200]}",
            status=status,
            retryable=retryable,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
