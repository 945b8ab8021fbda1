"""Commands against a store: read a stream, decide, append with optimistic concurrency.

``handle`` is the whole write path of an event-sourced application, built on the
pure pieces of a decider: the state comes from ``replay`` (started from the
newest snapshot, or from the states handled last, see ``statecache``), the
events from ``decide``, and the append states the version that was read, so a
writer that decided on an old state cannot win.
"""

from __future__ import annotations

from typing import TypeVar

from eventlab.application import snapshots, statecache
from eventlab.core.decider import Decider, replay
from eventlab.core.events import RecordedEvent
from eventlab.errors import ConcurrencyError, UsageError
from eventlab.storage.store import EventStore

S = TypeVar("S")


def handle(
    store: EventStore,
    decider: Decider[S],
    stream_id: str,
    command: object,
    *,
    max_retries: int = 3,
    metadata: dict | None = None,
) -> list[RecordedEvent]:
    """Run one command against a stream: read, replay, decide, append. Returns what was recorded.

    The append expects the stream to still be at the version that was read. If
    another writer got there first, the store raises ``ConcurrencyError`` and
    nothing is written; ``handle`` then reads the stream again and decides anew
    on the fresh state (which may now reject the command), up to ``max_retries``
    times before letting the ``ConcurrencyError`` through.

    A rejected command (``CommandRejected`` from ``decide``) writes nothing. A
    command that decides no events writes nothing and returns ``[]``. Inside
    ``store.unit_of_work()`` the reads see the unit's own uncommitted appends, so
    many commands can be handled and committed together; a clash with another
    process then surfaces when the unit commits, as a ``ConcurrencyError`` from
    the ``with`` block, and the whole unit is to be retried.
    """
    if decider.decide is None:
        raise UsageError(f"decider {decider.name!r} has no decide function (decide=None): it reads, replays "
                         f"and travels in time, but cannot handle commands; give it decide=... to write")
    retries = 0
    while True:
        version, state = current_state(store, decider, stream_id)
        events = list(decider.decide(command, state))
        if not events:
            return []
        try:
            written = store.append(stream_id, events, expected_version=version, metadata=metadata)
        except ConcurrencyError:
            if retries >= max_retries:
                raise
            retries += 1
            continue
        statecache.put(store, decider, stream_id, written[-1].version, replay(written, decider, state))
        snapshots.after_append(store, stream_id, decider, version, written[-1].version)
        return written


def current_state(store: EventStore, decider: Decider[S], stream_id: str) -> tuple[int, S]:
    """A stream's version and state: from the cache of recent commands, else snapshot + replay."""
    cached = statecache.get(store, decider, stream_id)
    if cached is not None:
        return cached
    snapshot = snapshots.latest(store, stream_id, decider)
    start = snapshot.version if snapshot else 0
    recorded = store.read(stream_id, from_version=start + 1)
    version = recorded[-1].version if recorded else start
    return version, replay(recorded, decider, snapshot.state if snapshot else None)
