"""JSON that clients send, read so that its nesting stays bounded and its strings are
Unicode.

Python's decoder recurses once per level and raises ``RecursionError`` near the
interpreter's limit, an exception no caller expects: a POST of a few kilobytes of
``[`` was answered 500. Here it becomes :class:`TooDeep`, a ``ValueError`` like any
other malformed JSON. :func:`deeper_than` lets the validators refuse, well before that
limit, values nested deeper than any statement or document needs, so that whatever is
stored can always be read back and written out again, at any depth of the stack.

JSON may also spell a lone surrogate (``"\\ud83d"``, half of a pair), which the decoder
turns into a string that is no Unicode text: it cannot be encoded to UTF-8, so storing,
hashing or answering it raised deep in the request (a 500). :func:`loads` refuses such
a value as :class:`NotUnicode`, a ``ValueError`` too (I-JSON, RFC 7493 §2.1: no
surrogate code points). Statements are decoded without that check and refused one by
one (:func:`lone_surrogate_in`, by ``xapi.statements_store.check_statement``), so that
the error names the statement and a page pulled from another LRS loses only the
statement that holds one.

Python's decoder also reads ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON
(RFC 8259 §6), and numbers too large for a float (``1e400``) as infinity: a statement
holding one was stored, and every answer that then held it was written with the same
tokens, which no JSON parser reads, so one such extension value broke a whole page of
statements for every client. :data:`DECODER` refuses them as :class:`NotJsonNumber`;
:func:`decode_statement` reads such a statement all the same and says so, so that it
is named and refused alone, as lone surrogates are. Integers longer than Python
converts are refused with a message that names the number, not Python's setting.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

# Levels of arrays and objects a document may hold; an extension value gets half, as
# it sits some ten levels down a statement.
MAX_DEPTH = 64
MAX_EXTENSION_DEPTH = MAX_DEPTH // 2


# Where a surrogate may come from: a \uD800-\uDFFF escape (the text itself, decoded
# from UTF-8, holds none). Only a text that has one is searched value by value.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# Python refuses to convert longer integers (sys.get_int_max_str_digits, 4300 by default).
MAX_INTEGER_DIGITS = sys.get_int_max_str_digits() or 4300


class NotJsonNumber(ValueError):
    """NaN, an infinity, or a number too large for a float: no JSON can hold it."""


def _no_constant(name: str) -> Any:
    raise NotJsonNumber(f"{name} is not a JSON value: RFC 8259 has no NaN nor Infinity")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 24 else f"{text[:20]}…"
        raise NotJsonNumber(f"the number {shown} is too large to be read")
    return value


# What reads JSON only (no NaN, no infinity): for DECODER, and for loads' json.loads.
_STRICT: dict[str, Any] = {"parse_constant": _no_constant, "parse_float": _finite}
# Stateless, so shared. DECODER reads JSON only; LENIENT reads NaN and infinities too.
DECODER = json.JSONDecoder(**_STRICT)
LENIENT = json.JSONDecoder()
T = TypeVar("T")


def _decoded(decode: Callable[..., T], *args: Any, **options: Any) -> T:
    """``decode(*args, **options)``; :class:`TooDeep` rather than RecursionError, and
    Python's refusal of a long integer in words that name the number, not Python's
    setting."""
    try:
        return decode(*args, **options)
    except RecursionError:
        raise TooDeep() from None
    except ValueError as error:
        if "int_max_str_digits" not in str(error):
            raise
        raise ValueError(f"a number has more than {MAX_INTEGER_DIGITS} digits") from None


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__("the JSON is nested too deeply to be read")


class NotUnicode(ValueError):
    REASON = (
        "a string holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair), "
        "which is not a Unicode character"
    )

    def __init__(self) -> None:
        super().__init__(self.REASON)


def loads(text: str | bytes, *, lone_surrogates: bool = False) -> Any:
    """``json.loads``, refusing what :data:`DECODER` refuses (:class:`NotJsonNumber`);
    :class:`TooDeep` rather than RecursionError, and :class:`NotUnicode` for a lone
    surrogate (all ValueErrors), unless ``lone_surrogates``: then the caller sorts the
    values out (:func:`storable`), so that one odd entry of a list does not cost the
    others."""
    value = _decoded(json.loads, text, **_STRICT)
    if not lone_surrogates and lone_surrogate_in(text, value):
        raise NotUnicode()
    return value


def raw_decode(text: str, pos: int) -> tuple[Any, int]:
    """The JSON value at ``pos`` of ``text`` and where it ends, NaN and infinities
    included (:data:`LENIENT`: for values the caller skips over, or sorts out itself);
    :class:`TooDeep` (a ValueError) rather than RecursionError."""
    return _decoded(LENIENT.raw_decode, text, pos)


def decode_statement(text: str, pos: int) -> tuple[Any, int, bool]:
    """The JSON value at ``pos`` of ``text``, where it ends, and whether all its numbers
    are JSON numbers (False: it holds NaN or an infinity, for the caller to refuse by
    name). :class:`TooDeep` rather than RecursionError; lone surrogates are left to the
    caller (:func:`lone_surrogate_in`)."""
    try:
        value, end = _decoded(DECODER.raw_decode, text, pos)
    except NotJsonNumber:
        value, end = raw_decode(text, pos)
        return value, end, False
    return value, end, True


def lone_surrogate_in(text: str | bytes, value: Any) -> bool:
    """Whether ``value``, decoded from the JSON ``text``, holds a lone surrogate: a
    search of the text first, so that values without one cost no walk."""
    if isinstance(text, bytes):
        escaped = _SURROGATE_ESCAPE_BYTES.search(text) is not None
    else:
        escaped = _SURROGATE_ESCAPE.search(text) is not None
    return escaped and holds_surrogate(value)


def storable(text: str) -> bool:
    """Whether a database can store ``text``: no NUL character (PostgreSQL text holds
    none) and no surrogate (no Unicode character)."""
    return "\x00" not in text and _SURROGATE.search(text) is None


def holds_surrogate(value: Any) -> bool:
    """Whether any string of ``value`` (decoded JSON), object keys included, holds a
    surrogate."""
    return any(_SURROGATE.search(text) for text in strings_in(value))


def holds_nul(value: Any) -> bool:
    """Whether any string of ``value``, object keys included, holds a NUL character,
    which PostgreSQL text cannot store."""
    return any("\x00" in text for text in strings_in(value))


def strings_in(value: Any) -> Iterator[str]:
    """Every string of ``value`` (decoded JSON), object keys included. Iterative, so
    any depth is walked."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


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
