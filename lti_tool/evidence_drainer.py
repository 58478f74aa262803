"""Where queued statements become evidence (:mod:`xapi.derivation`): ``EVIDENCE_DERIVATION``.

- ``background`` (default): a thread of each web process, woken when that process
  has stored statements, and every ``EVIDENCE_POLL_SECONDS`` to pick up what another
  process left (one killed mid-way, say).
- ``inline``: in the request, after the statements are committed: the answer waits
  for evidence and achievement (tests, and installs that want read-your-writes).
- ``worker``: web processes only queue; a thread of ``lti-tool worker`` (which
  delivers gradebook scores too) looks at the queue every ``EVIDENCE_POLL_SECONDS``
  (0.1: an empty queue costs one small read). The production choice: derivation then
  never competes with requests for a web process's interpreter lock.

When a round starts (background, worker; :class:`Settling`): at once when
``EVIDENCE_ROUND_ROWS`` (250) statements wait, else once statements stop coming, or
once the first waiting statement has waited ``EVIDENCE_MAX_DELAY_SECONDS`` (0.5) while
more kept coming. Statements have stopped coming after four of their mean gaps without
one, at least 10 ms and at most ``EVIDENCE_DELAY_SECONDS`` (0.1): the end of a fast
stream is seen within a few hundredths of a second, and a lone statement or a slow
trickle is waited for up to 0.1 s, to be derived with what follows. Moodle's log
store sending a run's events one by one is then one transaction (the longest wait cuts
it into rounds): a pair touched by many statements is recomputed once, and a round of
200 single statements costs a third of what 8 rounds of 25 do; a batch as large as
a round gains nothing from waiting, and is derived while the next one arrives. The
answer to a POST never waits for evidence; evidence follows within those delays plus
the derivation itself. On SQLite, after a round the loop leaves requests as long again
as the round took, so that intake keeps at least half of the single write lock.

The queue lives in the database, so nothing is lost when a process stops, and any
process may take over what another queued.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lti_tool.database import checkpoint_wal, db, write_turn
from lti_tool.exceptions import ConfigurationError
from xapi import derivation

log = logging.getLogger(__name__)

MODES = ("background", "inline", "worker")
# After a failed round, the loop waits this long (not its poll) before the next one:
# an outage is logged once a second at most, rather than ten times.
OUTAGE_PAUSE_SECONDS = 1.0
# A wait ends once no statement came for this many of the stream's mean gaps between
# statements, and never sooner than MIN_SILENCE (see Settling.silence).
STREAM_GAPS = 4.0
MIN_SILENCE = 0.01


@dataclass
class Settling:
    """Whether to derive now, from what the loop saw of the queue's waiting rows (the
    ids of the oldest and newest, :func:`xapi.derivation.queued_span`).

    ``rows``: derive at once when that many wait (a round's worth: waiting saves
    nothing); ``longest``: derive once the first statement seen has waited this long,
    even while more keep coming; otherwise derive once statements stop coming, that is
    once the newest row has not changed for :meth:`silence`. Times are the loop's
    monotonic clock, never the database's, so several hosts need no common clock.
    """

    quiet: float  # the longest silence that ends a wait (a lone statement waits this)
    longest: float
    rows: int
    _first_seen: float | None = None
    _first_newest: int = 0
    _newest: int | None = None
    _changed_at: float = 0.0

    @property
    def waiting(self) -> bool:
        return self._first_seen is not None

    def silence(self) -> float:
        """How long without a new statement ends the wait: ``STREAM_GAPS`` of the
        stream's mean gap between statements (within ``MIN_SILENCE`` and ``quiet``).

        A stream of 500 singles a second has ended after 10 ms without one, while
        statements a few tenths of a second apart are still waited for up to ``quiet``
        and derived together."""
        if self._first_seen is None or self._newest is None:
            return self.quiet
        arrived = self._newest - self._first_newest
        if arrived <= 0:  # one look so far: no gap measured
            return self.quiet
        gap = (self._changed_at - self._first_seen) / arrived
        return min(self.quiet, max(MIN_SILENCE, STREAM_GAPS * gap))

    def look_again(self, now: float) -> float:
        """Seconds until the loop's next look while statements wait: when the silence
        since the newest change would be long enough (a look that finds more coming
        starts the count again), so that a stream is looked at once per silence."""
        return max(MIN_SILENCE / 2, self._changed_at + self.silence() - now)

    def due(self, now: float, span: tuple[int, int] | None) -> bool:
        if span is None:
            self._first_seen = None
            return False
        oldest, newest = span
        if newest - oldest + 1 >= self.rows:
            return True
        if self._first_seen is None:
            self._first_seen, self._first_newest = now, newest
            self._newest, self._changed_at = newest, now
        elif newest != self._newest:
            self._newest, self._changed_at = newest, now
        return now - self._changed_at >= self.silence() or now - self._first_seen >= self.longest

    def derived(self) -> None:
        self._first_seen = None


class Drainer:
    """The derivation thread of one process: of a web process (started on first use in
    that process, so that it lives in the process gunicorn forked, not in its parent),
    or of ``lti-tool worker``. ``stop`` ends it between rounds."""

    def __init__(
        self,
        new_session: Callable[[], Session],
        poll_seconds: float,
        delay_seconds: float,
        max_delay_seconds: float,
        *,
        round_rows: int,
        single_writer: bool = False,
        turn: derivation.Turn = nullcontext,
        checkpoint: Callable[[], None] = lambda: None,
    ) -> None:
        self._new_session = new_session
        self._poll = poll_seconds
        self._settling = Settling(
            delay_seconds, max(delay_seconds, max_delay_seconds), max(1, round_rows)
        )
        self._single_writer = single_writer
        self._turn = turn
        self._checkpoint = checkpoint
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
        look_now = False  # a round just took rows
        settling = self._settling
        while not self.stop.is_set():
            self.stop.wait(pause)
            if settling.waiting:  # statements wait: look again soon, woken or not
                self.stop.wait(settling.look_again(time.monotonic()))
            elif not look_now:
                self._wake.wait(self._poll)
            self._wake.clear()
            pause, look_now = 0.0, False
            if self.stop.is_set():
                return
            try:
                with self._new_session() as session:
                    if not settling.due(time.monotonic(), derivation.queued_span(session)):
                        continue
                    started = time.monotonic()
                    taken = derivation.drain(session, turn=self._turn).taken
                settling.derived()
                # A round that took rows: more may have come meanwhile, look again at
                # once (not a whole poll later) ...
                look_now = taken > 0
                if taken and self._single_writer:
                    # ... after leaving the only write lock (SQLite) to requests as long
                    # again as the round held it, so that intake keeps half of the time.
                    pause = time.monotonic() - started
                    self._checkpoint()
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
    engine = app.extensions["database"]["engine"]
    return Drainer(
        app.extensions["database"]["sessionmaker"],
        float(app.config["EVIDENCE_POLL_SECONDS"]),
        float(app.config["EVIDENCE_DELAY_SECONDS"]),
        float(app.config["EVIDENCE_MAX_DELAY_SECONDS"]),
        round_rows=int(app.config["EVIDENCE_ROUND_ROWS"]),
        single_writer=engine.dialect.name == "sqlite",
        turn=lambda: write_turn(engine),
        checkpoint=lambda: checkpoint_wal(engine),
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
