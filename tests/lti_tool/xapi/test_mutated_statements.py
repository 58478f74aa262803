"""Whatever a statement holds, the Statements resource answers 200 or 400, never 500:
real statements (Moodle, H5P, cmi5) with one to three values replaced by values of
another type or shape, or removed, the way a buggy activity provider would send them.
A refused request stores nothing. The mutations are drawn from a fixed seed, so a
failure names a case that fails again."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from xapi_lrs_client import Lrs

from tests.json_mutations import mutated
from xapi.models import Statement

Sample = Callable[[str], dict[str, Any]]
CountRows = Callable[[type[Any]], int]
SAMPLES = ("moodle_quiz_completed", "h5p_answered", "cmi5_passed")
CASES = 1500
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    10**40,
    "",
    "x",
    "\u0000",
    "\ud83d",  # half of a surrogate pair
    "é" * 5000,
    [],
    {},
    [None],
    {"a": None},
    "not an iri",
    "mailto:",
    "2026-13-45T00:00:00Z",
    "PT",
    "00000000-0000-0000-0000-000000000000",
    "ZZZZZZZZ-0000-0000-0000-000000000000",
    {"en": 5},
    {"xx-!!": "a"},
    {"objectType": "Group", "member": [{}]},
    {"objectType": "SubStatement"},
    {"objectType": "StatementRef", "id": "x"},
    "http://example.com/" + "a" * 3000,
]
KEYS = ["id", "objectType", "extensions", "score", "mbox", "account", "member", "version"]


def test_mutated_statements_get_200_or_a_400_that_says_why(
    lrs: Lrs, sample: Sample, count_rows: CountRows
) -> None:
    rnd = random.Random(20261127)

    def fresh(name: str) -> dict[str, Any]:
        """The sample under an id of its own (the same id again would be a 409)."""
        return sample(name) | {"id": str(uuid.UUID(int=rnd.getrandbits(128), version=4))}

    answers: dict[int, int] = {}
    for case in range(CASES):
        statement = mutated(fresh(rnd.choice(SAMPLES)), rnd, ODD_VALUES, new_keys=KEYS)
        body = [statement, fresh("moodle_quiz_completed")] if case % 3 == 0 else statement
        before = count_rows(Statement)
        response = lrs.post(json.dumps(body))
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400), (case, body, response.data[:300])
        if response.status_code == 400:
            assert response.json["error"], (case, body)
            assert count_rows(Statement) == before, (case, body)  # all or nothing
    # The mutations reach both answers: the test is not refusing everything.
    assert answers.get(200, 0) > CASES // 10 and answers.get(400, 0) > CASES // 2
