"""Heartbeats of the processes that deliver gradebook scores (``lti-tool worker``, its
``--once`` runs from cron, ``lti-tool serve``), kept in the database so that any host
sees every other's.

A long-running worker beats every ``BEAT_SECONDS``, a ``--once`` run once. A worker that
beats also forgets workers silent for more than ``FORGET_AFTER``: when every worker has
stopped, nothing forgets the last of them, so ``lti-tool status`` can still say when it
was seen.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lti_tool.models.worker_heartbeat import WorkerHeartbeat
from referentiel.orm import utcnow

BEAT_SECONDS = 30.0
FORGET_AFTER = timedelta(days=1)


def worker_name() -> str:
    """This thread's name as its heartbeats give it: ``host:pid:thread``."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def ended_here(name: str) -> bool:
    """Whether the worker so named ran on this host in a process that has ended.
    Another host's worker cannot be told ended, so it is not."""
    host, _, rest = name.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it exists
        return False
    return False


def beat(session: Session, name: str, mode: str, started_at: datetime) -> None:
    """Record that worker ``name`` is alive now, committed."""
    now = utcnow()
    seen = session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(seen_at=now)
    )
    if not seen.rowcount:  # type: ignore[attr-defined]
        session.add(WorkerHeartbeat(name=name, mode=mode, started_at=started_at, seen_at=now))
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_AFTER))
    session.commit()


def latest(session: Session, limit: int = 20) -> Sequence[WorkerHeartbeat]:
    """The workers seen most recently, the latest first."""
    return session.scalars(
        select(WorkerHeartbeat).order_by(WorkerHeartbeat.seen_at.desc()).limit(limit)
    ).all()
