"""The ids this LRS gives statements received without one (xapi.identifiers)."""

from __future__ import annotations

import time
import uuid

from xapi.identifiers import new_statement_id
from xapi.validation import UUID_RE


def test_an_assigned_id_is_a_standard_form_uuid_of_the_rfc_4122_variant() -> None:
    ident = new_statement_id()
    assert UUID_RE.match(ident) and ident == ident.lower()
    parsed = uuid.UUID(ident)
    assert parsed.variant == uuid.RFC_4122
    assert parsed.version == 7


def test_an_assigned_id_starts_with_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    milliseconds = uuid.UUID(new_statement_id()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= milliseconds <= after


def test_ids_made_later_sort_after_earlier_ones_and_never_repeat() -> None:
    earlier = [new_statement_id() for _ in range(5000)]
    time.sleep(0.002)
    later = new_statement_id()
    assert all(ident < later for ident in earlier)
    assert len(set(earlier)) == len(earlier)
