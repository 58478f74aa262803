"""Identifiers: the ids this LRS gives statements, and the hashed keys of agents and
activities stored in the statement index tables.

Agents and identified groups are the same when they use the same inverse functional
identifier (xAPI 1.0.3 Data §2.4.2.3): the key is the SHA-256 of the readable key of
:mod:`xapi.actors`, so that it fits a fixed-size indexed column whatever its length.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from xapi import actors

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
_UUID7 = getattr(uuid, "uuid7", None)  # Python 3.14 and later


def new_statement_id() -> str:
    """A time-ordered UUID (RFC 9562 version 7: milliseconds since the epoch, then 74
    random bits), for a statement received without an id.

    xAPI takes "all versions of variant 2 in RFC 4122" (Data §2.4.1). Random (version 4)
    ids land anywhere in the statements' primary key, so that past a few thousand
    statements each one of a batch rewrote its own page of that index; ids that grow
    with time are appended at its end. Python 3.14's ``uuid.uuid7`` when there is one.
    """
    if _UUID7 is not None:
        return str(_UUID7())
    milliseconds = time.time_ns() // 1_000_000 & (1 << 48) - 1
    bits = int.from_bytes(os.urandom(10), "big")  # 80 random bits, 74 of them used
    rand_a, rand_b = bits >> 68, bits & (1 << 62) - 1  # 12 and 62 bits
    value = milliseconds << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


@functools.lru_cache(maxsize=4096)
def digest(text: str) -> str:
    """Cached: the same activities and agents come back statement after statement."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hashed_agent_key(agent: Mapping[str, Any]) -> str | None:
    """None for an anonymous group (it has no identity to search by)."""
    if not any(key in agent for key in IFIS):
        return None
    return digest(actors.actor_key(agent))
