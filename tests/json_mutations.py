"""Seeded mutations of JSON values, for the tests that bad input never gets a server
error: a real value (a statement, a launch's claims) with one to three of its values
replaced by a value of another type or shape, removed, or joined by a member."""

from __future__ import annotations

import copy
import random
from collections.abc import Collection, Iterator, Sequence
from typing import Any


def places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside ``value`` (object members and array items)."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from places(child, (*path, index))


def mutated(
    value: Any,
    rnd: random.Random,
    odd_values: Sequence[Any],
    *,
    keep: Collection[str] = (),
    new_keys: Sequence[str] = (),
) -> Any:
    """A copy of ``value`` with one to three changes drawn from ``rnd``: a value replaced
    by one of ``odd_values``, removed, or (with ``new_keys``) an object given one of
    those members. Top-level members named in ``keep`` are left as they are."""
    value = copy.deepcopy(value)
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice([p for p in places(value) if p and p[0] not in keep])
        parent: Any = value
        for key in path[:-1]:
            parent = parent[key]
        roll = rnd.random()
        if roll < 0.6:
            parent[path[-1]] = copy.deepcopy(rnd.choice(odd_values))
        elif not isinstance(parent, dict):
            continue
        elif roll < 0.8 or not new_keys:
            del parent[path[-1]]
        else:
            parent[rnd.choice(new_keys)] = copy.deepcopy(rnd.choice(odd_values))
    return value
