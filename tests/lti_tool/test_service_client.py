"""Paging links of the LTI Advantage services, and where their bearer token may go
(lti_tool.service_client)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from lti_tool.service_client import ServiceCallError, ServiceClient, follow_pages, next_page

NEXT = "https://moodle.example.org/mod/lti/services.php/2/lineitems?page=2"


@pytest.mark.parametrize(
    "header",
    [
        f'<{NEXT}>; rel="next"',
        f"<{NEXT}>; rel=next",
        f"<https://moodle.example.org/first>; rel=\"first\", <{NEXT}>; rel='next'",
        f"<{NEXT}>; rel=“next”",  # Moodle's typographic quotes, decoded
        f"<{NEXT}>; rel=“next”".encode().decode("latin-1"),  # as an HTTP client reads them
    ],
)
def test_the_next_link_is_found_however_its_relation_is_quoted(header: str) -> None:
    assert next_page(header) == NEXT


@pytest.mark.parametrize("header", [None, "", '<https://moodle.example.org/p1>; rel="prev"'])
def test_no_next_link_is_none(header: str | None) -> None:
    assert next_page(header) is None


def _pages(links: dict[str, str]) -> Callable[[str], requests.Response]:
    """A platform whose page at each URL links to ``links[url]`` (when any)."""

    def get(url: str) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        if url in links:
            response.headers["Link"] = f'<{links[url]}>; rel="next"'
        response.url = url
        return response

    return get


def test_pages_are_followed_on_the_same_server_with_relative_links() -> None:
    first = "https://moodle.example.org/api/members"
    get = _pages({first: "/api/members?page=2", f"{first}?page=2": f"{first}?page=3"})
    read = [page.url for page in follow_pages(first, get, max_pages=10)]
    assert read == [first, f"{first}?page=2", f"{first}?page=3"]


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example.net/steal", "http://moodle.example.org/api", "//evil.example.net/x"],
)
def test_a_next_page_on_another_server_is_not_asked_with_the_token(elsewhere: str) -> None:
    first = "https://moodle.example.org/api/members"
    asked: list[str] = []

    def get(url: str) -> requests.Response:
        asked.append(url)
        return _pages({first: elsewhere})(url)

    with pytest.raises(ServiceCallError, match="on another server"):
        list(follow_pages(first, get, max_pages=10))
    assert asked == [first]


def test_a_next_link_back_to_a_page_already_read_ends_the_list() -> None:
    first = "https://moodle.example.org/api/members"
    get = _pages({first: f"{first}?page=2", f"{first}?page=2": first})
    assert len(list(follow_pages(first, get, max_pages=1000))) == 2


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/relative/members", "ftp://h/x"])
def test_a_service_address_that_is_not_http_is_refused_before_any_request(url: str) -> None:
    client = ServiceClient("TOKEN", http=requests.Session(), timeout=1)
    with pytest.raises(ServiceCallError, match="not an http"):
        client.call("GET", url, accept="application/json")
