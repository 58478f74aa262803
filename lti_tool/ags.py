"""LTI Assignment and Grade Services 2.0 client: line items and scores.

Line items (AGS 2.0 §3.2): a container URL lists them, filtered by
``resource_link_id``, ``resource_id`` and ``tag`` and paged with a ``Link`` header
(:func:`lti_tool.service_client.follow_pages`). A tool creates one by POSTing
``label`` and ``scoreMaximum`` (both required) with its ``resourceId``, ``tag`` and
``resourceLinkId``.
Scores (AGS 2.0 §3.4): POSTed to the line item URL with ``/scores`` added to its path.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from lti_tool.service_client import ServiceCallError, ServiceClient, follow_pages, origin
from xapi import json_text

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MAX_PAGES = 50  # a runaway next link must not loop forever
MAX_SCORE_MAXIMUM = 1_000_000.0  # no gradebook column is out of more
MAX_URL_LENGTH = 2048
MAX_LABEL_LENGTH = 1000


def invalid(reason: str) -> ServiceCallError:
    """A platform answer the tool cannot use: a refusal to act on, not a bug."""
    return ServiceCallError(f"the platform sent {reason}", status=None, retryable=False)


def _beside(url: str, endpoint: str) -> bool:
    """``url`` is an absolute http(s) URL on ``endpoint``'s origin."""
    where = origin(url)
    return where[0] in ("http", "https") and bool(where[1]) and where == origin(endpoint)


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class LineItem:
    url: str
    score_maximum: float
    label: str
    tag: str | None = None
    resource_id: str | None = None
    resource_link_id: str | None = None

    @classmethod
    def from_json(cls, data: Any, endpoint: str) -> LineItem:
        """A line item (AGS 2.0 §3.2.8) checked before the tool relies on it.

        ``id`` must be an absolute http(s) URL on the same origin as ``endpoint`` (the
        service URL the launch gave): scores and the bearer token go there.
        ``scoreMaximum`` must be a finite number above 0 (§3.2.8.3: "a positive
        decimal"), at most ``MAX_SCORE_MAXIMUM``; ``label`` a string.
        """
        if not isinstance(data, dict):
            raise invalid("a line item that is not a JSON object")
        url = data.get("id")
        if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or not _beside(url, endpoint):
            raise invalid(
                "a line item whose id is not an absolute URL on the service's own "
                f"origin: {str(url)[:200]!r}"
            )
        maximum = data.get("scoreMaximum")
        if isinstance(maximum, str):  # some platforms quote it; the checks below still apply
            with contextlib.suppress(ValueError):
                maximum = float(maximum)
        if (
            isinstance(maximum, bool)
            or not isinstance(maximum, int | float)
            or not math.isfinite(maximum)
            or not 0 < maximum <= MAX_SCORE_MAXIMUM
        ):
            raise invalid(
                f"a line item whose scoreMaximum is not a number above 0 and at most "
                f"{MAX_SCORE_MAXIMUM:g}: {str(data.get('scoreMaximum'))[:40]!r}"
            )
        label = data.get("label", "")
        if not isinstance(label, str):
            raise invalid("a line item whose label is not a string")
        return cls(
            url=url,
            score_maximum=float(maximum),
            label=label[:MAX_LABEL_LENGTH],
            tag=_optional_str(data.get("tag")),
            resource_id=_optional_str(data.get("resourceId")),
            resource_link_id=_optional_str(data.get("resourceLinkId")),
        )


def _json(response: requests.Response, what: str) -> Any:
    try:
        return json_text.loads(response.text)
    except ValueError as error:
        raise invalid(f"{what} that is not JSON ({error})") from error


def scores_url(lineitem_url: str) -> str:
    """The line item URL with ``/scores`` appended to its path, query kept (AGS §3.4)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class AgsClient(ServiceClient):
    """Line items and scores, with one bearer token."""

    def get_line_item(self, url: str, *, endpoint: str | None = None) -> LineItem:
        """The line item at ``url``; its id must share the origin of ``endpoint``
        (default: ``url`` itself)."""
        response = self.call("GET", url, accept=LINEITEM_TYPE)
        return LineItem.from_json(_json(response, "a line item"), endpoint or url)

    def find_line_items(self, container_url: str, **filters: str) -> list[LineItem]:
        """Every line item matching the filters, following ``rel="next"`` pages.

        Each page must be a JSON array of line item objects (AGS 2.0 §3.2.5).
        """
        pages = follow_pages(
            _with_query(container_url, filters),
            lambda url: self.call("GET", url, accept=LINEITEMS_TYPE),
            MAX_PAGES,
        )
        found: list[LineItem] = []
        for page in pages:
            items = _json(page, "a line item list")
            if not isinstance(items, list):
                raise invalid("a line item list that is not a JSON array")
            found.extend(LineItem.from_json(item, container_url) for item in items)
        return found

    def create_line_item(self, container_url: str, item: dict[str, Any]) -> LineItem:
        response = self.call(
            "POST",
            container_url,
            accept=LINEITEM_TYPE,
            json=item,
            headers={"Content-Type": LINEITEM_TYPE},
        )
        return LineItem.from_json(_json(response, "a line item"), container_url)

    def post_score(self, lineitem_url: str, score: dict[str, Any]) -> None:
        self.call(
            "POST",
            scores_url(lineitem_url),
            accept="application/json",
            json=score,
            headers={"Content-Type": SCORE_TYPE},
        )
