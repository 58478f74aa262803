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


def test_the_end_of_a_fast_stream_is_seen_within_a_few_hundredths_of_a_second() -> None:
    """Singles at 500 a second (two new at each look 4 ms apart): once they stop,
    10 ms of silence is enough, not the 0.1 s a lone statement waits."""
    settling = Settling(quiet=0.1, longest=0.5, rows=1000)
    now, newest = 0.0, 1
    for _ in range(25):  # 0.1 s of stream: never due (no silence, not the longest)
        assert not settling.due(now, (1, newest))
        now, newest = now + 0.004, newest + 2
    stopped = now
    assert settling.silence() == pytest.approx(0.01)
    while not settling.due(now, (1, newest)):
        now += settling.look_again(now)
    assert 0.01 <= now - stopped <= 0.02


def test_a_slow_trickle_is_waited_for_as_long_as_a_lone_statement() -> None:
    """Statements 40 ms apart: four gaps exceed the 0.1 s cap, so the wait is the
    configured one and they are derived together."""
    settling = Settling(quiet=0.1, longest=0.5, rows=1000)
    assert settling.silence() == 0.1  # nothing seen yet
    assert not settling.due(0.0, (1, 1))
    assert settling.silence() == 0.1  # one look: no gap measured
    assert not settling.due(0.04, (1, 2))
    assert not settling.due(0.08, (1, 3))
    assert settling.silence() == 0.1
    assert not settling.due(0.17, (1, 3))
    assert settling.due(0.185, (1, 3))  # 0.1 s since statement 3 was seen


def test_a_stream_s_silence_is_measured_afresh_at_each_wait() -> None:
    settling = Settling(quiet=0.1, longest=0.5, rows=1000)
    for look in range(10):  # a fast stream
        settling.due(look * 0.002, (1, 1 + 5 * look))
    assert settling.silence() == pytest.approx(0.01)
    settling.derived()
    assert not settling.due(1.0, (60, 60))  # a lone statement later
    assert settling.silence() == 0.1
    assert not settling.due(1.05, (60, 60))
    assert settling.due(1.1, (60, 60))
