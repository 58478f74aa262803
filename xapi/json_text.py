"""JSON that clients send, read so that its nesting stays bounded.

Python's decoder recurses once per level and raises ``RecursionError`` near the
interpreter's limit, an exception no caller expects: a POST of a few kilobytes of
``[`` was answered 500. Here it becomes :class:`TooDeep`, a ``ValueError`` like any
other malformed JSON. :func:`deeper_than` lets the validators refuse, well before that
limit, values nested deeper than any statement or document needs, so that whatever is
stored can always be read back and written out again, at any depth of the stack.
"""

from __future__ import annotations

import json
from typing import Any

# Levels of arrays and objects a document may hold; an extension value gets half, as
# it sits some ten levels down a statement.
MAX_DEPTH = 64
MAX_EXTENSION_DEPTH = MAX_DEPTH // 2


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__("the JSON is nested too deeply to be read")


def loads(text: str | bytes) -> Any:
    """``json.loads``; :class:`TooDeep` (a ValueError) rather than RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeep() from None


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """``decoder.raw_decode``; :class:`TooDeep` (a ValueError) rather than RecursionError."""
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        raise TooDeep() from None


def deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``limit`` levels (a scalar is
    level 0, ``[1]`` level 1). Iterative, so any depth is measured."""
    level = [(value, 0)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        level.extend((child, depth + 1) for child in children)
    return False
