"""Checkpoints: a stream's state at any version from a state kept nearby plus a bounded number of events.

Replaying a stream of 100,000 events to show one of its versions costs a large
fraction of a second, and a slider asks for a version at every move. So a long
stream gets *checkpoints*: its state after every ``every``-th version, with the
global position of that event. The state at version ``v`` is then the newest
checkpoint at or before ``v`` plus the (at most ``every - 1``) events after it,
read by their positions, so DuckDB reads only that stretch of the log.

The checkpoints come from the store's snapshots of the stream when they are
close enough together (``eventlab.snapshots.take_every`` stores them for a whole
log), else from one replay of the stream, kept in memory. Either way a test
checks ``state_at`` against a replay from the start. A stream of at most
``every`` events needs no checkpoint: it is read whole, by its index.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

from eventlab.application import replaying, snapshots
from eventlab.core.decider import Decider
from eventlab.errors import UsageError
from eventlab.storage.store import EventStore

S = TypeVar("S")

EVERY = 500
"""Versions between two checkpoints of a stream: the most events one ``state_at`` replays."""
MOST = 1000
"""At most this many checkpoints per stream (held in memory): a longer stream spaces them wider."""


class StreamCheckpoints(Generic[S]):
    """One stream's states at checkpoints, so that :meth:`state_at` any version costs a bounded read.

    ``positions`` are the global positions of the stream's events in version
    order, when the caller knows them already (a slider's index does); else
    they are read.
    """

    def __init__(self, store: EventStore, stream_id: str, decider: Decider[S], *,
                 positions: Sequence[int] | np.ndarray | None = None, every: int = EVERY):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UsageError(f"checkpoints every n versions need an int n >= 1, got {every!r}")
        self.store, self.stream_id, self.decider = store, stream_id, decider
        if positions is None:
            positions = store.arrow("SELECT position FROM events WHERE stream_id = ? ORDER BY version",
                                    [stream_id]).column("position").to_numpy()
        self.positions = np.asarray(positions, dtype=np.int64)
        self.every = max(every, math.ceil(len(self.positions) / MOST))
        self._states: dict[int, S] = {0: decider.initial_state}  # version -> state (0: before the first)
        self._stored: set[int] = set()  # versions whose state is a snapshot, loaded when first needed
        if len(self.positions) > self.every:
            self._find_checkpoints()
        self.versions = sorted({*self._states, *self._stored})

    @property
    def length(self) -> int:
        """How many events the stream has (as far as this object knows)."""
        return len(self.positions)

    def state_at(self, version: int) -> S:
        """The stream's state after ``version`` (0: the initial state; past the end: the last state)."""
        version = min(max(0, int(version)), self.length)
        if self.length <= self.every:  # a short stream: read whole by its index, cut at the version
            return replaying.stream_state(self.store, self.stream_id, self.decider,
                                          where="version <= ?", params=[version])
        start = self.versions[bisect.bisect_right(self.versions, version) - 1]
        state = self._checkpoint(start)
        if start == version:
            return state
        # the events after the checkpoint, up to the version: positions[start] is version start + 1's
        between = (int(self.positions[start]) - 1, int(self.positions[version - 1]))
        return replaying.stream_state(self.store, self.stream_id, self.decider, state=state, between=between)

    def _checkpoint(self, version: int) -> S:
        if version not in self._states:
            self._states[version] = snapshots.latest(self.store, self.stream_id, self.decider,
                                                     version=version).state
        return self._states[version]

    def _find_checkpoints(self) -> None:
        """Use the stored snapshots if no two are more than ``every`` versions apart; else replay once."""
        stored = sorted(snapshots.versions(self.store, self.stream_id, self.decider))
        marks = [0, *(v for v in stored if v <= self.length), self.length]
        if max(b - a for a, b in zip(marks, marks[1:], strict=False)) <= self.every:
            self._stored = {version for version in stored if 1 <= version <= self.length}
            return
        self._states.update(replaying.states_every(self.store, self.stream_id, self.decider, self.every,
                                                   self.positions))


__all__ = ["StreamCheckpoints", "EVERY", "MOST"]
