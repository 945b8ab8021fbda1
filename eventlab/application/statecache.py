"""The states ``handle`` decided on last, kept so the next command need not re-read its stream.

A command usually follows another on the same stream (place, add an item, pay).
Without a cache each one reads the whole stream back and replays it, which
costs a query (about a millisecond in DuckDB) before any deciding happens. With
it, ``handle`` reads a stream once and then keeps its state up to date as it
appends.

A cached state is used only while it is provably current: it records the
stream's version and the store's *generation* (bumped whenever appends are
rolled back), and both must still match. Writes that bypass ``handle`` change the
version, so they make the entry stale too. Only the most recent streams are kept.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlab.core.decider import Decider
    from eventlab.storage.store import EventStore

MAX_STREAMS = 10_000
"""streams remembered per store; the oldest are forgotten first"""

_Entry = tuple["Decider", int, int, Any]  # decider, store generation, version, state
_caches: weakref.WeakKeyDictionary[EventStore, OrderedDict[tuple[int, str], _Entry]] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


def get(store: EventStore, decider: Decider, stream_id: str) -> tuple[int, Any] | None:
    """``(version, state)`` of a stream if the cache holds its current state, else None."""
    key = (id(decider), stream_id)
    with _lock:
        cache = _caches.get(store)
        entry = cache.get(key) if cache else None
        if entry is None:
            return None
        cache.move_to_end(key)
    owner, generation, version, state = entry
    if owner is not decider or generation != store.generation or version != store.stream_version(stream_id):
        return None
    return version, state


def put(store: EventStore, decider: Decider, stream_id: str, version: int, state: Any) -> None:
    """Remember that ``stream_id`` is in ``state`` at ``version``."""
    key = (id(decider), stream_id)
    with _lock:
        cache = _caches.setdefault(store, OrderedDict())
        cache[key] = (decider, store.generation, version, state)  # holding the decider keeps its id unique
        cache.move_to_end(key)
        if len(cache) > MAX_STREAMS:
            cache.popitem(last=False)
