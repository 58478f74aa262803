"""One turn at a time for whatever changes evidence or what is computed from it.

On PostgreSQL a transaction-level advisory lock: evidence derivation (the queue, a
learner's first launch, mapping rules) and achievement recomputation take it before
their first write, so that no state is computed from evidence another transaction has
not committed yet, and no two of them wait on each other's rows (each takes this lock
first, then row locks). SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import weakref

from sqlalchemy import text
from sqlalchemy.orm import Session

# pg_advisory_xact_lock key: "xapi-evi" read as a 64-bit integer.
_LOCK_KEY = int.from_bytes(b"xapi-evi", "big") - (1 << 63)
# session.info key: a weak reference to the transaction that holds the lock.
_HELD_BY = "xapi.evidence_lock.held_by"


def serialise(session: Session) -> None:
    """Wait for the turn, and hold it until this transaction ends. Taking it again in
    the same transaction (a derivation round, then its evidence, then achievement)
    costs nothing: the transaction that holds it is remembered."""
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    held = session.info.get(_HELD_BY)
    if transaction is not None and held is not None and held() is transaction:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    session.info[_HELD_BY] = weakref.ref(session.get_transaction())
