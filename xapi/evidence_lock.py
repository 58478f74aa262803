"""One turn at a time for whatever changes evidence or what is computed from it.

On PostgreSQL a transaction-level advisory lock: evidence derivation (the queue, a
learner's first launch, mapping rules) and achievement recomputation take it before
their first write, so that no state is computed from evidence another transaction has
not committed yet, and no two of them wait on each other's rows (each takes this lock
first, then row locks). SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# pg_advisory_xact_lock key: "xapi-evi" read as a 64-bit integer.
_LOCK_KEY = int.from_bytes(b"xapi-evi", "big") - (1 << 63)


def serialise(session: Session) -> None:
    """Wait for the turn, and hold it until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
