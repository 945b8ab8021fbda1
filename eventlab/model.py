"""Deciders: how commands become events, and events become state.

A *decider* is three plain things: an initial state, ``evolve`` (apply one event
to a state) and ``decide`` (turn a command and the current state into new
events, or reject it). Everything else follows from them:

- ``replay`` folds ``evolve`` over a stream: State = replay(events).
- ``handle`` is the whole write path: read the stream, replay it, decide, and
  append what was decided with optimistic concurrency.

Keeping ``evolve`` and ``decide`` pure functions (no I/O, no clock, no
randomness) is what makes replaying history, time travel and testing with
``eventlab.testing.given(...).when(...).then(...)`` possible at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from eventlab import snapshots, statecache
from eventlab.errors import ConcurrencyError, UnknownEventTypeError
from eventlab.events import RecordedEvent

if TYPE_CHECKING:
    from eventlab.store import EventStore

S = TypeVar("S")


@dataclass(frozen=True)
class Decider(Generic[S]):
    """The rules of one kind of entity (an order, a stock item...), as three pure pieces.

    ``initial_state`` is the state before any event; ``evolve(state, event)``
    returns the state after one event (it never rejects: events are facts that
    already happened); ``decide(command, state)`` returns the list of events a
    command causes, or raises ``eventlab.CommandRejected`` when a business rule
    forbids it.

    The keyword fields describe the decider to the rest of eventlab:

    - ``name``: a stable name (e.g. ``"orders"``); snapshots are stored under it,
      so change it only when old snapshots should be ignored.
    - ``category``: the stream-id prefix it owns; ``"order"`` means streams
      ``"order-<id>"``. Whole-system queries such as ``states_at`` use it.
    - ``state_version``: bump it when the *shape* of the state changes, so
      snapshots of the old shape are not loaded into the new one.
    - ``state_sql``: optional, the same state computed in SQL over the events
      table, so whole-system time travel can run vectorized in DuckDB instead of
      one Python replay per stream. ``None`` means "replay in Python". The
      statement reads a relation ``stream_events`` (rows of ``events``, already
      cut to the decider's streams and the point in time) and returns one row
      per ``stream_id`` with a column per state field.
    - ``fold``: optional, ``fold(state, events) -> state``, exactly ``evolve``
      applied to each event but faster (e.g. building a list once instead of
      copying it per event). ``replay`` uses it when given; a test checks that
      the two agree.
    """

    initial_state: S
    evolve: Callable[[S, Any], S]
    decide: Callable[[Any, S], list[Any]]
    _: KW_ONLY
    name: str = ""
    category: str = ""
    state_version: int = 1
    state_sql: str | None = None
    fold: Callable[[S, Iterable[Any]], S] | None = None


def replay(events: Iterable[Any], decider: Decider[S], state: S | None = None) -> S:
    """Fold ``decider.evolve`` over ``events``, starting from ``state`` (default: the initial state).

    Accepts domain events or ``RecordedEvent``s read from a store. Because it is
    a plain left fold, replaying a prefix and then the rest gives the same state
    as replaying everything at once; that is what makes snapshots safe.
    """
    return replay_domain([_domain_event(e) if isinstance(e, RecordedEvent) else e for e in events],
                         decider, state)


def replay_domain(events: list[Any], decider: Decider[S], state: S | None = None) -> S:
    """``replay`` of domain events only, with no ``RecordedEvent`` to unwrap (time travel's fast path)."""
    if state is None:
        state = decider.initial_state
    if not events:
        return state
    if decider.fold is not None:
        return decider.fold(state, events)
    evolve = decider.evolve
    for event in events:
        state = evolve(state, event)
    return state


def _domain_event(recorded: RecordedEvent) -> object:
    event = recorded.event
    if event is None:
        raise UnknownEventTypeError(
            f"event type {recorded.type!r} (stream {recorded.stream_id!r}, version "
            f"{recorded.version}) has no registered class, so it cannot be replayed; "
            f"import the module that defines it (decorated with @eventlab.event_type)"
        )
    return event


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
    retries = 0
    while True:
        version, state = _current(store, decider, stream_id)
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


def _current(store: EventStore, decider: Decider[S], stream_id: str) -> tuple[int, S]:
    """A stream's version and state: from the cache of recent commands, else snapshot + replay."""
    cached = statecache.get(store, decider, stream_id)
    if cached is not None:
        return cached
    snapshot = snapshots.latest(store, stream_id, decider)
    start = snapshot.version if snapshot else 0
    recorded = store.read(stream_id, from_version=start + 1)
    version = recorded[-1].version if recorded else start
    return version, replay(recorded, decider, snapshot.state if snapshot else None)
