"""Where queued statements become evidence (:mod:`xapi.derivation`): ``EVIDENCE_DERIVATION``.

- ``background`` (default): a thread of each web process, woken when that process
  has stored statements, and every ``EVIDENCE_POLL_SECONDS`` to pick up what another
  process left (one killed mid-way, say). Once woken it waits ``EVIDENCE_DELAY_SECONDS``
  (0.1 by default) so that what arrives meanwhile is derived in the same transaction:
  a pair touched by many statements is recomputed once, and the SQLite write lock is
  taken a few times a second rather than once per statement. The answer to a POST
  does not wait for evidence; evidence and achievement follow within that delay plus
  the derivation itself.
- ``inline``: in the request, after the statements are committed: the answer waits
  for evidence and achievement (tests, and installs that want read-your-writes).
- ``worker``: web processes only queue; a thread of ``lti-tool worker`` (which
  delivers gradebook scores too) looks at the queue every ``EVIDENCE_POLL_SECONDS``
  (0.1: an empty queue costs one small read) and derives what it finds, in rounds at
  least ``EVIDENCE_DELAY_SECONDS`` apart. The production choice: derivation then never
  competes with requests for a web process's interpreter lock.

The queue lives in the database, so nothing is lost when a process stops, and any
process may take over what another queued.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lti_tool.database import db
from lti_tool.exceptions import ConfigurationError
from xapi import derivation

log = logging.getLogger(__name__)

MODES = ("background", "inline", "worker")
# After a failed round, the loop waits this long (not its poll) before the next one:
# an outage is logged once a second at most, rather than ten times.
OUTAGE_PAUSE_SECONDS = 1.0


class Drainer:
    """The derivation thread of one process: of a web process (started on first use in
    that process, so that it lives in the process gunicorn forked, not in its parent),
    or of ``lti-tool worker``. ``stop`` ends it between rounds."""

    def __init__(
        self,
        new_session: Callable[[], Session],
        poll_seconds: float,
        delay_seconds: float,
        *,
        single_writer: bool = False,
    ) -> None:
        self._new_session = new_session
        self._poll = poll_seconds
        self._delay = delay_seconds
        self._single_writer = single_writer
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.stop = threading.Event()

    def ensure_started(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    threading.Thread(target=self._run, name="evidence-drainer", daemon=True).start()

    def wake(self) -> None:
        self.ensure_started()
        self._wake.set()

    def start_thread(self) -> threading.Thread:
        """Run the loop in a new thread of this process (``lti-tool worker``)."""
        self._pid = os.getpid()
        thread = threading.Thread(target=self._run, name="evidence-drainer", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        pause = 0.0
        while not self.stop.is_set():
            self.stop.wait(pause)
            if self._wake.wait(self._poll):
                self.stop.wait(self._delay)  # let more arrive: one transaction for all
            self._wake.clear()
            if self.stop.is_set():
                return
            started = time.monotonic()
            try:
                with self._new_session() as session:
                    taken = derivation.drain(session).taken
                # After a round, as long again for requests where a round holds the
                # only write lock (SQLite): intake keeps at least half of the time.
                took = time.monotonic() - started
                pause = took if taken and self._single_writer else 0.0
            except DBAPIError as error:  # the rows stay queued for the next round
                log.warning("database unavailable, deriving later: %s", type(error.orig).__name__)
                pause = OUTAGE_PAUSE_SECONDS
            except Exception:
                log.exception("deriving queued evidence failed; will try again")
                pause = OUTAGE_PAUSE_SECONDS


def init_app(app: Flask) -> None:
    mode = app.config["EVIDENCE_DERIVATION"]
    if mode not in MODES:
        raise ConfigurationError(
            f"LTI_TOOL_EVIDENCE_DERIVATION must be one of {', '.join(MODES)}, not {mode!r}"
        )
    if mode == "background":
        drainer = new_drainer(app)
        app.extensions["evidence_drainer"] = drainer
        # Each web process polls from its first request on, whatever it serves.
        app.before_request(drainer.ensure_started)


def new_drainer(app: Flask) -> Drainer:
    """A derivation loop with the app's settings (not started)."""
    return Drainer(
        app.extensions["database"]["sessionmaker"],
        float(app.config["EVIDENCE_POLL_SECONDS"]),
        float(app.config["EVIDENCE_DELAY_SECONDS"]),
        single_writer=app.extensions["database"]["engine"].dialect.name == "sqlite",
    )


def statements_committed() -> None:
    """Call after committing statements: derive them now, or wake the drainer."""
    mode = current_app.config["EVIDENCE_DERIVATION"]
    if mode == "inline":
        session = db.session
        try:
            derivation.drain(session)
        except Exception:  # the statements are stored; their rows stay queued
            session.rollback()
            log.exception("deriving evidence after storing failed; left queued")
    elif mode == "background":
        current_app.extensions["evidence_drainer"].wake()
