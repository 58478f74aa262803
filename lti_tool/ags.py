"""LTI Assignment and Grade Services 2.0 client: line items and scores.

Line items (AGS 2.0 §3.2): a container URL lists them, filtered by
``resource_link_id``, ``resource_id`` and ``tag`` and paged with an RFC 8288 ``Link``
header (``rel="next"``; Moodle writes the quotes as typographic quotes, so both are
read). A tool creates one by POSTing ``label`` and ``scoreMaximum`` (both required)
with its ``resourceId``, ``tag`` and ``resourceLinkId``.
Scores (AGS 2.0 §3.4): POSTed to the line item URL with ``/scores`` added to its path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from lti_tool.exceptions import LtiToolError
from lti_tool.platform_token import retry_after_seconds

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MAX_PAGES = 50  # a runaway next link must not loop forever

_NEXT_LINK = re.compile(r"<([^>]+)>\s*;\s*rel\s*=\s*[\"“”']?next[\"“”']?", re.IGNORECASE)


class AgsError(LtiToolError):
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


@dataclass(frozen=True)
class LineItem:
    url: str
    score_maximum: float
    label: str
    tag: str | None = None
    resource_id: str | None = None
    resource_link_id: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineItem:
        try:
            return cls(
                url=str(data["id"]),
                score_maximum=float(data["scoreMaximum"]),
                label=str(data.get("label", "")),
                tag=data.get("tag"),
                resource_id=data.get("resourceId"),
                resource_link_id=data.get("resourceLinkId"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AgsError(
                f"the platform sent a line item without id or scoreMaximum: {error}",
                status=None,
                retryable=False,
            ) from error


def scores_url(lineitem_url: str) -> str:
    """The line item URL with ``/scores`` appended to its path, query kept (AGS §3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def next_page(link_header: str | None) -> str | None:
    if not link_header:
        return None
    match = _NEXT_LINK.search(link_header)
    return match.group(1) if match else None


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class AgsClient:
    """Calls with one bearer token; every failure becomes an ``AgsError``."""

    def __init__(self, token: str, *, http: requests.Session, timeout: float) -> None:
        self.token = token
        self.http = http
        self.timeout = timeout

    def _call(self, method: str, url: str, *, accept: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": accept}
        headers.update(kwargs.pop("headers", {}))
        try:
            response = self.http.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.Timeout as error:
            raise AgsError(f"{method} timed out", status=None, retryable=True) from error
        except requests.ConnectionError as error:
            raise AgsError(
                f"{method} could not reach the platform ({type(error).__name__})",
                status=None,
                retryable=True,
            ) from error
        status = response.status_code
        if status < 300:
            return response
        retryable = status == 429 or status >= 500
        raise AgsError(
            f"{method} {urlsplit(url).path} answered {status}: {response.text[:200]}",
            status=status,
            retryable=retryable,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def get_line_item(self, url: str) -> LineItem:
        return LineItem.from_json(self._call("GET", url, accept=LINEITEM_TYPE).json())

    def find_line_items(self, container_url: str, **filters: str) -> list[LineItem]:
        """Every line item matching the filters, following ``rel="next"`` pages."""
        url: str | None = _with_query(container_url, filters)
        found: list[LineItem] = []
        pages = 0
        while url and pages < MAX_PAGES:
            response = self._call("GET", url, accept=LINEITEMS_TYPE)
            found.extend(LineItem.from_json(item) for item in response.json())
            url = next_page(response.headers.get("Link"))
            pages += 1
        return found

    def create_line_item(self, container_url: str, item: dict[str, Any]) -> LineItem:
        response = self._call(
            "POST",
            container_url,
            accept=LINEITEM_TYPE,
            json=item,
            headers={"Content-Type": LINEITEM_TYPE},
        )
        return LineItem.from_json(response.json())

    def post_score(self, lineitem_url: str, score: dict[str, Any]) -> None:
        self._call(
            "POST",
            scores_url(lineitem_url),
            accept="application/json",
            json=score,
            headers={"Content-Type": SCORE_TYPE},
        )
