"""Notebook 1's exercise: write replay yourself, a left fold of ``evolve`` over the events."""

from __future__ import annotations

from collections.abc import Callable

from eventlab.core.decider import replay as reference_replay
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten

_PLACED = orders.OrderPlaced(order_id="123", user_id=1, items=["a", "b"])
HISTORIES = [
    [],
    [_PLACED],
    [_PLACED, orders.ItemAdded(order_id="123", item="c")],
    [_PLACED, orders.ItemAdded(order_id="123", item="c"), orders.OrderPaid(order_id="123", amount=100)],
    [_PLACED, orders.ItemRemoved(order_id="123", item="a"), orders.ItemAdded(order_id="123", item="d"),
     orders.OrderPaid(order_id="123", amount=30), orders.OrderShipped(order_id="123")],
]
"""The order histories the check replays, from none to five events."""


def check_replay(my_replay: Callable[[object, Callable, list], object]) -> Verdict:
    """``my_replay(initial_state, evolve, events)`` must give the state after all the events, in order."""
    initial, evolve = orders.decider.initial_state, orders.decider.evolve
    for events in HISTORIES:
        try:
            got = my_replay(initial, evolve, list(events))
        except NotImplementedError:
            return unwritten("my_replay")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"on {len(events)} event(s) my_replay fails: {type(error).__name__}: {error}")
        want = reference_replay(events, orders.decider)
        if got == want:
            continue
        story = f"after {[type(e).__name__ for e in events]} the state should be {want}, yours is {got!r}"
        if isinstance(got, list):
            return not_yet(f"{story}: return the state after the last event, not a list")
        if not events:
            return not_yet(f"{story}: with no events, the state is the initial state")
        if got == evolve(initial, events[-1]):
            return not_yet(f"{story}: only the last event counted; pass the state each evolve returns "
                           f"to the next call (state = evolve(state, event))")
        if got == reference_replay(events[::-1], orders.decider):
            return not_yet(f"{story}: the events were applied last to first; "
                           f"the log's order is the story's order")
        return not_yet(story)
    return solved(f"all {len(HISTORIES)} histories replay to the state eventlab.replay gives")
