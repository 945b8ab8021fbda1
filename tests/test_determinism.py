"""Repeatable clocks and ids: the same calls, the same times and ids, and no naive datetimes."""

from __future__ import annotations

import doctest
from datetime import datetime, timedelta, timezone

import pytest

from eventlab import EventStore, NewEvent
from eventlab.determinism import COURSE_START, HandClock, seeded_ids, ticking_clock

FRIDAY = datetime(2024, 6, 7, 16, 0, tzinfo=timezone.utc)


def test_a_hand_clock_shows_the_time_last_set_and_does_not_move_by_itself():
    clock = HandClock(FRIDAY)
    assert clock() == clock() == FRIDAY
    clock.now += timedelta(days=3)
    assert clock() == clock.now == datetime(2024, 6, 10, 16, 0, tzinfo=timezone.utc)
    clock.now = FRIDAY  # back in time too: it is only a clock on the wall
    assert clock() == FRIDAY
    assert HandClock()() == COURSE_START
    assert repr(clock) == f"HandClock({FRIDAY!r})"


def test_a_hand_clock_refuses_times_without_a_time_zone():
    with pytest.raises(ValueError, match="has no time zone"):
        HandClock(datetime(2024, 6, 7, 16, 0))
    clock = HandClock(FRIDAY)
    with pytest.raises(ValueError, match="has no time zone"):
        clock.now = datetime(2024, 6, 10, 9, 30)
    with pytest.raises(TypeError, match="is not a datetime"):
        clock.now = "2024-06-10 09:30"
    assert clock() == FRIDAY  # a refused time leaves the clock as it was


def test_a_store_records_events_at_the_hand_clocks_time():
    clock = HandClock(FRIDAY)
    with EventStore(clock=clock, ids=seeded_ids(3)) as store:
        store.append("s-1", [NewEvent("Happened", {})])
        clock.now = FRIDAY + timedelta(hours=2)
        store.append("s-1", [NewEvent("Happened", {})])
        assert [e.recorded_at for e in store.read("s-1")] == [FRIDAY, FRIDAY + timedelta(hours=2)]


def test_the_hand_clocks_example_runs():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(HandClock, globs={"HandClock": HandClock, "datetime": datetime,
                                               "timedelta": timedelta, "timezone": timezone}):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted >= 4 and runner.failures == 0


def test_ticking_clocks_and_seeded_ids_repeat_themselves():
    clock = ticking_clock(step=timedelta(hours=1))
    assert [clock() for _ in range(3)] == [COURSE_START + timedelta(hours=h) for h in range(3)]
    first, again = seeded_ids(5), seeded_ids(5)
    assert [first() for _ in range(3)] == [again() for _ in range(3)]
    with pytest.raises(ValueError, match="has no time zone"):
        ticking_clock(datetime(2024, 6, 3, 9, 0))
