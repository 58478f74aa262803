"""LTI Assignment and Grade Services 2.0 client: line items and scores.

Line items (AGS 2.0 §3.2): a container URL lists them, filtered by
``resource_link_id``, ``resource_id`` and ``tag`` and paged with a ``Link`` header
(:func:`lti_tool.service_client.follow_pages`). A tool creates one by POSTing
``label`` and ``scoreMaximum`` (both required) with its ``resourceId``, ``tag`` and
``resourceLinkId``.
Scores (AGS 2.0 §3.4): POSTed to the line item URL with ``/scores`` added to its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from lti_tool.service_client import ServiceCallError, ServiceClient, follow_pages

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MAX_PAGES = 50  # a runaway next link must not loop forever


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
            raise ServiceCallError(
                f"the platform sent a line item without id or scoreMaximum: {error}",
                status=None,
                retryable=False,
            ) from error


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

    def get_line_item(self, url: str) -> LineItem:
        return LineItem.from_json(self.call("GET", url, accept=LINEITEM_TYPE).json())

    def find_line_items(self, container_url: str, **filters: str) -> list[LineItem]:
        """Every line item matching the filters, following ``rel="next"`` pages."""
        pages = follow_pages(
            _with_query(container_url, filters),
            lambda url: self.call("GET", url, accept=LINEITEMS_TYPE),
            MAX_PAGES,
        )
        return [LineItem.from_json(item) for page in pages for item in page.json()]

    def create_line_item(self, container_url: str, item: dict[str, Any]) -> LineItem:
        response = self.call(
            "POST",
            container_url,
            accept=LINEITEM_TYPE,
            json=item,
            headers={"Content-Type": LINEITEM_TYPE},
        )
        return LineItem.from_json(response.json())

    def post_score(self, lineitem_url: str, score: dict[str, Any]) -> None:
        self.call(
            "POST",
            scores_url(lineitem_url),
            accept="application/json",
            json=score,
            headers={"Content-Type": SCORE_TYPE},
        )
