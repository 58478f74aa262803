"""Hashed keys for agents and activities, as stored in the statement index tables.

Agents and identified groups are the same when they use the same inverse functional
identifier (xAPI 1.0.3 Data §2.4.2.3): the key is the SHA-256 of the readable key of
:mod:`xapi.actors`, so that it fits a fixed-size indexed column whatever its length.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from xapi import actors

IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


@functools.lru_cache(maxsize=4096)
def digest(text: str) -> str:
    """Cached: the same activities and agents come back statement after statement."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hashed_agent_key(agent: Mapping[str, Any]) -> str | None:
    """None for an anonymous group (it has no identity to search by)."""
    if not any(key in agent for key in IFIS):
        return None
    return digest(actors.actor_key(agent))
