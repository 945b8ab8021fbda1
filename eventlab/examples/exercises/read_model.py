"""Notebook 6's exercise: a read model of your own design, for a question the support desk asks.

The question: *for each customer, how many of their orders are paid and
waiting for the warehouse?* The learner chooses the table, the handlers and
the query; the check catches the projection up on a small shop, then on the
events of a morning of shipping and cancelling, and compares each time with a
replay of every order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from eventlab.application.handling import handle
from eventlab.application.projections import Projection, ProjectionError, catch_up
from eventlab.application.timetravel import states_at
from eventlab.errors import UsageError
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten
from eventlab.examples.sample import demo_store
from eventlab.storage.store import EventStore


def _waiting(store: EventStore) -> dict[int, int]:
    """The truth, by replay: customer -> orders in status Paid (customers with none left out)."""
    states = states_at(store, orders.decider)
    paid = states[states["status"] == "Paid"]
    return {int(user): int(n) for user, n in paid.groupby("user_id").size().items()}


def _a_morning(store: EventStore) -> None:
    """The warehouse ships most waiting orders; two paid orders are cancelled; one new order is paid."""
    states = states_at(store, orders.decider)
    paid = states[states["status"] == "Paid"]["order_id"].tolist()
    for n, order_id in enumerate(paid):
        command = orders.CancelOrder(order_id, "changed their mind") if n < 2 else orders.ShipOrder(order_id)
        if n % 4 != 3:  # a few stay waiting
            handle(store, orders.decider, orders.stream_id(order_id), command)
    handle(store, orders.decider, orders.stream_id("N1"), orders.PlaceOrder("N1", 4242, ["mug"]))
    handle(store, orders.decider, orders.stream_id("N1"), orders.PayOrder("N1", 8.0))


def check_waiting_orders(setup: str | None, handlers: Mapping[str, Callable] | None,
                         query: str | None) -> Verdict:
    """``setup`` makes your tables, ``handlers`` keep them, ``query`` answers: columns user_id, waiting."""
    if not setup or not handlers or not query:
        return not_yet("setup, handlers and query are not all written yet")
    try:
        projection = Projection("waiting_orders", types=list(handlers), tables=[], setup=setup,
                                handlers=handlers)
    except UsageError as error:
        return not_yet(str(error))
    store = demo_store(n_orders=150, seed=6)
    for moment in ("after six weeks", "after a morning of shipping and cancelling"):
        if moment != "after six weeks":
            _a_morning(store)
        try:
            catch_up(store, projection, batch_size=50)
        except ProjectionError as error:
            if isinstance(error.__cause__, NotImplementedError):
                return unwritten("a handler")
            return not_yet(f"{moment}, the projection fails at position {error.position} "
                           f"({error.event.type if error.event else '?'}): "
                           f"{type(error.__cause__).__name__}: {error.__cause__}")
        try:
            rows = store.sql(query).df()
        except Exception as error:  # a learner's SQL may fail in any way DuckDB can
            return not_yet(f"the query fails: {str(error).splitlines()[0]}")
        if {"user_id", "waiting"} - set(rows.columns):
            return not_yet(f"the query should give the columns user_id and waiting; "
                           f"it gives {list(rows.columns)}")
        got = {int(r.user_id): int(r.waiting) for r in rows.itertuples() if r.waiting}
        want = _waiting(store)
        if got != want:
            return not_yet(f"{moment}: {_first_difference(want, got, handlers)}")
    return solved(f"the read model agrees with a replay of every order, before and after the morning "
                  f"({sum(want.values())} orders waiting for {len(want)} customers now)")


def _first_difference(want: dict[int, int], got: dict[int, int], handlers: Mapping[str, Callable]) -> str:
    user = next(u for u in sorted(set(want) | set(got)) if want.get(u, 0) != got.get(u, 0))
    story = (f"customer {user} has {want.get(user, 0)} order(s) waiting, "
             f"your read model says {got.get(user, 0)}")
    if got.get(user, 0) > want.get(user, 0):
        leaving = sorted({"OrderShipped", "OrderCancelled"} - set(handlers))
        if leaving:
            return f"{story}: an order stops waiting when it is shipped or cancelled; handle {leaving} too"
        return f"{story}: an order leaves the count when it is shipped or cancelled after payment"
    return (f"{story}: a payment starts the wait, and the payment does not say whose order it is "
            f"(OrderPaid has no user_id): remember each order's customer from OrderPlaced")
