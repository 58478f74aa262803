"""When the derivation loop starts a round (lti_tool.evidence_drainer.Settling): at once
when a round's worth of statements waits, else once statements stop coming, or after
the longest wait while they keep coming. The loop sees the ids of the oldest and newest
waiting rows."""

from __future__ import annotations

import pytest

from lti_tool.evidence_drainer import Settling


def test_a_round_starts_once_statements_stop_coming() -> None:
    settling = Settling(quiet=0.1, longest=0.5, rows=100)
    assert not settling.due(0.0, None)  # nothing queued
    assert not settling.due(1.0, (7, 7))  # statement 7 seen: more may follow
    assert not settling.due(1.05, (7, 7))
    assert settling.due(1.1, (7, 7))  # nothing new for 0.1 s


def test_a_steady_stream_is_derived_after_the_longest_wait() -> None:
    settling = Settling(quiet=0.1, longest=0.5, rows=100)
    now, newest = 0.0, 1
    while not settling.due(now, (1, newest)):  # a new statement at every look
        now, newest = now + 0.025, newest + 1
    assert now == pytest.approx(0.5)
    settling.derived()
    assert not settling.waiting
    nxt = (newest + 1, newest + 1)
    assert not settling.due(now + 0.01, nxt)  # the next wait starts afresh
    assert settling.due(now + 0.2, nxt)


def test_a_queue_emptied_elsewhere_ends_the_wait() -> None:
    """Another process derived the rows: nothing to wait for any more."""
    settling = Settling(quiet=0.1, longest=0.5, rows=100)
    assert not settling.due(0.0, (3, 3))
    assert not settling.due(0.05, None)
    assert not settling.waiting
    assert not settling.due(0.6, (9, 9))  # a new statement: its own wait, not the old one's


def test_a_round_s_worth_waiting_is_derived_at_once() -> None:
    """A batch of 100 (or singles piling up while a round ran) gains nothing by
    waiting: the round starts at the first look."""
    settling = Settling(quiet=0.1, longest=0.5, rows=100)
    assert not settling.due(0.0, (1, 99))  # 99 wait: a trickle may still grow
    assert settling.due(0.0, (1, 100))
    assert settling.due(5.0, (301, 700))  # whenever it is seen
