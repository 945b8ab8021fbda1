"""Deciders: how commands become events, and events become state.

A *decider* is three plain things: an initial state, ``evolve`` (apply one event
to a state) and ``decide`` (turn a command and the current state into new
events, or reject it). ``replay`` folds ``evolve`` over a stream:
State = replay(events). The write path that uses ``decide`` against a store,
``handle``, is an application service (``eventlab.application.handling``).

Keeping ``evolve`` and ``decide`` pure functions (no I/O, no clock, no
randomness) is what makes replaying history, time travel and testing with
``eventlab.testing.given(...).when(...).then(...)`` possible at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Generic, TypeVar

from eventlab.core.events import RecordedEvent
from eventlab.errors import UnknownEventTypeError, UsageError

S = TypeVar("S")


@dataclass(frozen=True)
class Summary:
    """How pictures and the time slider sum up a decider's streams: count them by one state field,
    add up another.

    ``by`` is the state field that classifies a stream (the shop: ``"status"``),
    ``levels`` its values in the order to show them (others follow, by name).
    ``total`` is a numeric state field added up over all streams (``"paid"``),
    shown as ``total_label`` (``"Revenue"``). Optional, to let DuckDB compute the
    summary over a whole log instead of a Python replay: ``set_by`` maps an event
    type to the value of ``by`` right after it (other types leave it as it was),
    and ``total_from`` maps an event type to the data field it adds to ``total``.
    A decider that gives them must agree with its own ``evolve`` (test it).
    """

    by: str
    levels: tuple[str, ...] = ()
    total: str | None = None
    total_label: str | None = None
    set_by: Mapping[str, str] = field(default_factory=dict)
    total_from: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decider(Generic[S]):
    """The rules of one kind of entity (an order, a stock item...), as three pure pieces.

    ``initial_state`` is the state before any event; ``evolve(state, event)``
    returns the state after one event (it never rejects: events are facts that
    already happened); ``decide(command, state)`` returns the list of events a
    command causes, or raises ``eventlab.CommandRejected`` when a business rule
    forbids it. Without ``decide`` (``None``) the decider only reads: it replays
    and travels in time, and ``handle`` refuses it.

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
    - ``summary``: optional, how to sum up all its streams in pictures and the
      time slider (a :class:`Summary`).
    - ``spread``: for a dict state whose fields depend on the log: the name of
      the ``state_sql`` column that holds a JSON object per stream, whose keys
      become columns after the state's own (sorted), as the keys a dict state
      gains in Python do (``eventlab.latest_values`` works this way).
    - ``raw``: ``evolve`` receives the ``RecordedEvent`` itself (``.type``,
      ``.data``, ``.metadata``, ``.recorded_at``, ``.occurred_at``, ``.version``,
      ``.position``) instead of a domain object, so a log whose event types have
      no classes can be replayed, explored and pictured as it is.
    """

    initial_state: S
    evolve: Callable[[S, Any], S]
    decide: Callable[[Any, S], list[Any]] | None = None
    _: KW_ONLY
    name: str = ""
    category: str = ""
    state_version: int = 1
    state_sql: str | None = None
    fold: Callable[[S, Iterable[Any]], S] | None = None
    summary: Summary | None = None
    spread: str | None = None
    raw: bool = False


def replay(events: Iterable[Any], decider: Decider[S], state: S | None = None) -> S:
    """Fold ``decider.evolve`` over ``events``, starting from ``state`` (default: the initial state).

    Accepts domain events or ``RecordedEvent``s read from a store (a ``raw``
    decider takes ``RecordedEvent``s only, as they are). Because it is a plain left
    fold, replaying a prefix and then the rest gives the same state as replaying
    everything at once; that is what makes snapshots safe.
    """
    if decider.raw:
        events = list(events)
        stray = next((e for e in events if not isinstance(e, RecordedEvent)), None)
        if stray is not None:
            raise UsageError(f"decider {decider.name!r} is raw: it replays the RecordedEvents "
                             f"read from a store, not {type(stray).__name__} objects; pass store.read(...)")
        return fold_events(events, decider, state)
    return fold_events([_domain_event(e) if isinstance(e, RecordedEvent) else e for e in events],
                       decider, state)


def fold_events(events: list[Any], decider: Decider[S], state: S | None = None) -> S:
    """``replay`` of events already in the form ``evolve`` takes (time travel's fast path)."""
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
