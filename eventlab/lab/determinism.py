"""Clocks and ids that repeat themselves, for tests, notebooks and reproducible demos.

A store normally stamps events with the real time and random UUIDs, so no two
runs look alike. Give it a ticking clock and seeded ids instead and the same
commands produce the same log, byte for byte (hashes included): what a course
notebook, whose stored outputs are checked on every change, needs. When a story
needs events on particular days, a :class:`HandClock` shows whatever time was
last set on it.

>>> store = EventStore(clock=ticking_clock(), ids=seeded_ids(7))
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from eventlab.core.moments import aware

COURSE_START = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)  # a Monday morning


def ticking_clock(start: datetime = COURSE_START, step: timedelta = timedelta(minutes=1)
                  ) -> Callable[[], datetime]:
    """A clock that returns ``start``, then ``start + step``, ... one tick per call."""
    aware(start, "start")
    ticks = itertools.count()
    return lambda: start + next(ticks) * step


class HandClock:
    """A clock that shows whatever time was last set on it, and never moves by itself.

    Set ``clock.now`` before each command and its events are recorded at that
    moment: a story can happen on the days it says, and runs the same every time.
    Like :func:`ticking_clock`, it refuses times without a time zone.

    >>> clock = HandClock(datetime(2024, 6, 7, 16, 0, tzinfo=timezone.utc))  # a Friday afternoon
    >>> clock()
    datetime.datetime(2024, 6, 7, 16, 0, tzinfo=datetime.timezone.utc)
    >>> clock.now += timedelta(days=3)  # nothing happens until we say so: now it is Monday
    >>> f"{clock():%A %H:%M}"
    'Monday 16:00'
    """

    def __init__(self, now: datetime = COURSE_START) -> None:
        self.now = now

    @property
    def now(self) -> datetime:
        """the time the clock shows; set it to move the clock"""
        return self._now

    @now.setter
    def now(self, now: datetime) -> None:
        if not isinstance(now, datetime):
            raise TypeError(f"now={now!r} is not a datetime")
        aware(now, "now")
        self._now = now

    def __call__(self) -> datetime:
        return self._now

    def __repr__(self) -> str:
        return f"HandClock({self._now!r})"


def seeded_bytes(seed: int = 0) -> Callable[[int], bytes]:
    """``random_bytes(n)`` from ``random.Random(seed)``: repeatable keys and nonces for a course notebook
    (``eventlab.keystore.KeyStore(random_bytes=...)``). Predictable, so never for real personal data."""
    return random.Random(seed).randbytes


def seeded_ids(seed: int = 0) -> Callable[[], uuid.UUID]:
    """Random-looking (version 4) UUIDs drawn from ``random.Random(seed)``: the same seed, the same ids."""
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
