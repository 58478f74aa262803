"""Paging links of the LTI Advantage services (lti_tool.service_client.next_page)."""

from __future__ import annotations

import pytest

from lti_tool.service_client import next_page

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
