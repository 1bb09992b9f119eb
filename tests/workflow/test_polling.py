"""Adaptive polling as a pure object (agentic/workflows/polling.py): the clock is passed in or read once."""

from __future__ import annotations

import time

import pytest

from agentic.workflows.polling import AdaptivePoller


def test_the_first_gap_is_taken_as_is_then_smoothed():
    poller = AdaptivePoller(minimum=1, maximum=100)
    start = poller._last_activity
    poller.saw_activity(start + 40)
    assert poller.typical_gap == pytest.approx(40) and poller.interval == pytest.approx(10)
    poller.saw_activity(start + 40 + 20)  # 0.3 * 20 + 0.7 * 40
    assert poller.typical_gap == pytest.approx(34) and poller.interval == pytest.approx(8.5)


def test_nothing_new_doubles_within_the_bounds():
    poller = AdaptivePoller(minimum=2, maximum=9)
    assert poller.interval == 2
    poller.saw_nothing()
    assert poller.interval == 4
    poller.saw_nothing()
    assert poller.interval == 8
    poller.saw_nothing()
    assert poller.interval == 9
    poller.saw_activity(poller._last_activity + 0.4)  # a quarter of 0.4 s is below the minimum
    assert poller.interval == 2


def test_saw_activity_reads_the_clock_when_not_given():
    poller = AdaptivePoller(minimum=1, maximum=60)
    before = time.monotonic()
    poller.saw_activity()
    assert before <= poller._last_activity <= time.monotonic()
    assert poller.typical_gap is not None and 0 <= poller.typical_gap < 5


def test_reset_and_quiet_time():
    poller = AdaptivePoller(minimum=1, maximum=60)
    poller.saw_nothing()
    poller._last_activity -= 30
    assert poller.quiet_for >= 30
    poller.reset()
    assert poller.interval == 1 and poller.quiet_for < 1


def test_an_outage_is_not_silence():
    poller = AdaptivePoller(minimum=1, maximum=60)
    poller._last_activity -= 50
    poller.not_listening(45)
    assert 5 <= poller.quiet_for < 6
