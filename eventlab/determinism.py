"""Clocks and ids that repeat themselves, for tests, notebooks and reproducible demos.

A store normally stamps events with the real time and random UUIDs, so no two
runs look alike. Give it a ticking clock and seeded ids instead and the same
commands produce the same log, byte for byte (hashes included): what a course
notebook, whose stored outputs are checked on every change, needs.

>>> store = EventStore(clock=ticking_clock(), ids=seeded_ids(7))
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

COURSE_START = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)  # a Monday morning


def ticking_clock(start: datetime = COURSE_START, step: timedelta = timedelta(minutes=1)
                  ) -> Callable[[], datetime]:
    """A clock that returns ``start``, then ``start + step``, ... one tick per call."""
    if start.tzinfo is None:
        raise ValueError(f"start={start!r} has no time zone; use e.g. datetime(..., tzinfo=timezone.utc)")
    ticks = itertools.count()
    return lambda: start + next(ticks) * step


def seeded_ids(seed: int = 0) -> Callable[[], uuid.UUID]:
    """Random-looking (version 4) UUIDs drawn from ``random.Random(seed)``: the same seed, the same ids."""
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
