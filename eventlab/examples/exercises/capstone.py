"""Notebook 11's capstone: evolve, decide, time travel, SQL, an upcaster, a projection, a clash.

Each check returns a ``Verdict`` (see ``verdict``); the solutions live apart,
in ``notebooks/solutions/``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd

from eventlab.application.handling import handle
from eventlab.application.projections import Projection, ProjectionError, catch_up
from eventlab.application.timetravel import state_at
from eventlab.core.decider import Decider
from eventlab.core.events import NewEvent, event_type
from eventlab.core.upcasters import temporary_upcaster
from eventlab.errors import CommandRejected, ConcurrencyError, UnknownEventTypeError
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved
from eventlab.lab.determinism import seeded_ids, ticking_clock
from eventlab.storage.store import EventStore

# -- a tiny bank account, the domain of exercises 1 and 2 -----------------------------------


@event_type("AccountOpened")
@dataclass(frozen=True)
class AccountOpened:
    account_id: str
    owner: str


@event_type("MoneyDeposited")
@dataclass(frozen=True)
class MoneyDeposited:
    account_id: str
    amount: int


@event_type("MoneyWithdrawn")
@dataclass(frozen=True)
class MoneyWithdrawn:
    account_id: str
    amount: int


@dataclass(frozen=True)
class Account:
    """The state of an account: who owns it and how much is in it (None: not opened yet)."""

    owner: str | None = None
    balance: int = 0


@dataclass(frozen=True)
class Withdraw:
    """The command of exercise 2: take ``amount`` out of an account."""

    account_id: str
    amount: int


def _reference_evolve(state: Account, event: object) -> Account:
    match event:
        case AccountOpened(owner=owner):
            return Account(owner, 0)
        case MoneyDeposited(amount=amount):
            return Account(state.owner, state.balance + amount)
        case MoneyWithdrawn(amount=amount):
            return Account(state.owner, state.balance - amount)
    return state


def _random_history(rng: random.Random) -> list[object]:
    events: list[object] = [AccountOpened("acc-1", rng.choice(["ann", "bob"]))]
    balance = 0
    for _ in range(rng.randint(0, 8)):
        amount = rng.randint(1, 50)
        if rng.random() < 0.6 or amount > balance:
            events.append(MoneyDeposited("acc-1", amount))
            balance += amount
        else:
            events.append(MoneyWithdrawn("acc-1", amount))
            balance -= amount
    return events


def check_evolve(evolve: Callable[[Account, object], Account]) -> Verdict:
    """Exercise 1: ``evolve(state, event)`` for the account, checked on 200 random histories."""
    rng = random.Random(1)
    for _ in range(200):
        history = _random_history(rng)
        expected = actual = Account()
        try:
            for n, event in enumerate(history, 1):
                expected, actual = _reference_evolve(expected, event), evolve(actual, event)
                if actual != expected:
                    return not_yet(f"after {history[:n]} the state should be {expected}, "
                                           f"your evolve gives {actual}")
        except NotImplementedError:
            return not_yet("evolve still raises NotImplementedError: replace it with your code")
    return solved("evolve folds every history to the right balance")


def check_decide(decide: Callable[[Withdraw, Account], list[object]]) -> Verdict:
    """Exercise 2: ``decide(Withdraw, state)`` refuses overdrafts and unopened accounts."""
    cases = [
        (Account("ann", 100), Withdraw("acc-1", 30), [MoneyWithdrawn("acc-1", 30)]),
        (Account("ann", 100), Withdraw("acc-1", 100), [MoneyWithdrawn("acc-1", 100)]),
        (Account("ann", 100), Withdraw("acc-1", 101), "rejected"),
        (Account("ann", 100), Withdraw("acc-1", 0), "rejected"),
        (Account(), Withdraw("acc-1", 5), "rejected"),
    ]
    for state, command, expected in cases:
        try:
            outcome: object = decide(command, state)
        except NotImplementedError:
            return not_yet("decide still raises NotImplementedError: replace it with your code")
        except CommandRejected:
            outcome = "rejected"
        if outcome != expected:
            return not_yet(f"given {state}, {command} should give {expected}, got {outcome}")
    return solved("withdrawals within the balance pass, the rest are rejected")


# -- a small shop for exercises 3, 4 and 6 --------------------------------------------------

SHOP_START = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


def practice_shop() -> EventStore:
    """A small, always identical order history: 30 orders over a few days."""
    store = EventStore(clock=ticking_clock(SHOP_START, timedelta(minutes=37)), ids=seeded_ids(11))
    rng = random.Random(11)
    for n in range(30):
        order_id = f"{n:03d}"
        stream = orders.stream_id(order_id)
        handle(store, orders.decider, stream, orders.PlaceOrder(order_id, rng.randint(1, 9), ["a"]))
        for command in (orders.AddItem(order_id, "b"), orders.PayOrder(order_id, 10 * rng.randint(1, 5)),
                        orders.ShipOrder(order_id)):
            if rng.random() > 0.75:
                break  # this order stops here: a cart left behind, or paid and not yet shipped
            handle(store, orders.decider, stream, command)
    return store


def check_status_at(store: EventStore, answer: object) -> Verdict:
    """Exercise 3: the status of order 007 as of Tuesday 4 June 2024, 12:00 UTC."""
    expected = _status_at(store, "order-007", datetime(2024, 6, 4, 12, tzinfo=timezone.utc))
    if answer is None:
        return not_yet("answer is still None: set it to the status of order 007")
    ok = str(answer) == expected
    return Verdict(ok, f"order 007 was {expected!r} then" if ok
                    else f"{answer!r} is not it: replay only what was recorded by that moment")


def _status_at(store: EventStore, stream_id: str, moment: datetime) -> str:
    return str(state_at(store, stream_id, orders.decider, as_of=moment).status)


def check_paid_per_day(store: EventStore, query: str | None) -> Verdict:
    """Exercise 4: SQL giving, per day, how many orders were paid and the amount (day, orders, amount)."""
    if not query:
        return not_yet(f"query is {'still None' if query is None else 'empty'}: set it to your SQL")
    expected = store.sql("""
        SELECT recorded_at::DATE AS day, count(*) AS orders, sum((data ->> 'amount')::DOUBLE) AS amount
        FROM events WHERE type = 'OrderPaid' GROUP BY ALL ORDER BY day""").df()
    try:
        got = store.sql(query).df()
    except Exception as error:  # a learner's SQL may fail in any way DuckDB can
        return not_yet(f"the query fails: {str(error).splitlines()[0]}")
    got.columns = [c.lower() for c in got.columns]
    if list(got.columns) != ["day", "orders", "amount"]:
        return not_yet(f"the columns should be day, orders, amount; got {list(got.columns)}")
    try:
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    except AssertionError:
        return not_yet(f"expected\n{expected}\nbut got\n{got}")
    return solved(f"{int(expected['orders'].sum())} payments over {len(expected)} days")


# -- exercise 5: an upcaster ----------------------------------------------------------------


@event_type("PriceChanged", version=2)
@dataclass(frozen=True)
class PriceChanged:
    """A product's new price. Version 1 stored ``{product, price}``, the price a float in euros."""

    product: str
    cents: int
    currency: str


_OLD_PRICES = [("tea", 2.3), ("coffee", 4.0), ("cocoa", 1.15), ("mug", 9.99), ("sugar", 0.29)]


def price_log() -> EventStore:
    """A price list written by two releases: five version 1 events, then one of version 2."""
    store = EventStore(clock=ticking_clock(SHOP_START, timedelta(days=30)), ids=seeded_ids(5))
    store.append("prices", [NewEvent("PriceChanged", {"product": product, "price": price}, schema_version=1)
                            for product, price in _OLD_PRICES])
    store.append("prices", [PriceChanged("tea", 245, "EUR")])
    return store


def check_upcaster(fn: Callable[[dict], dict]) -> Verdict:
    """Exercise 5: ``fn(data)`` turns PriceChanged version 1 data into version 2; checked by replaying a log.

    The check registers ``fn`` as the upcaster only while it reads the log and
    puts back whatever was registered before, so a wrong attempt leaves nothing behind.
    """
    try:
        sample = fn({"product": "tea", "price": 2.3})
    except NotImplementedError:
        return not_yet("the upcaster still raises NotImplementedError: replace it with your code")
    except Exception as error:  # a learner's function may fail in any way
        return not_yet(f"the upcaster fails on {{'product': 'tea', 'price': 2.3}}: "
                               f"{type(error).__name__}: {error}")
    if not isinstance(sample, dict):
        return not_yet(f"the upcaster returns {sample!r}, not a dict: return the version 2 data")
    store = price_log()
    expected = [PriceChanged(product, round(price * 100), "EUR") for product, price in _OLD_PRICES]
    expected.append(PriceChanged("tea", 245, "EUR"))
    with temporary_upcaster("PriceChanged", 1, fn):
        try:
            got = [recorded.event for recorded in store.read("prices")]
        except UnknownEventTypeError as error:
            reason = str(error).rstrip(".")
            return not_yet(f"the upgraded data cannot be read as PriceChanged: {reason}. "
                                   f"Version 2 has exactly the fields product, cents and currency")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"the upcaster fails: {type(error).__name__}: {error}")
    for (product, price), event, want in zip(_OLD_PRICES, got, expected):
        if event != want:
            hint = ""
            if event.cents != want.cents:
                hint = (f": in floating point {price} * 100 is {price * 100!r}, so round it to the "
                        f"nearest cent rather than cut the decimals off")
            elif event.currency != want.currency:
                hint = ": every version 1 price was in euros"
            return not_yet(f"the version 1 data {{'product': {product!r}, 'price': {price}}} should "
                                   f"read as {want}, your upcaster gives {event}{hint}")
        if type(event.cents) is not int:
            return not_yet(f"cents should be a whole number (an int), got {event.cents!r}")
    if got[-1] != expected[-1]:
        return not_yet(f"the version 2 event should read as {expected[-1]}, got {got[-1]}")
    return solved(f"all {len(_OLD_PRICES)} old prices read in cents, the new one as it was written")


# -- exercise 6: a projection -----------------------------------------------------------------

CUSTOMER_ORDERS_SETUP = """CREATE TABLE IF NOT EXISTS customer_orders (
    user_id     BIGINT      PRIMARY KEY,
    orders      BIGINT      NOT NULL,  -- how many orders the customer has placed
    first_order TIMESTAMPTZ NOT NULL   -- when the first of them was recorded
)"""


def customer_orders(handler: Callable) -> Projection:
    """The read model of exercise 6, with ``handler(con, event)`` applying each OrderPlaced."""
    return Projection("customer_orders", types=["OrderPlaced"], tables=["customer_orders"],
                      setup=CUSTOMER_ORDERS_SETUP, handlers={"OrderPlaced": handler})


def check_customer_orders(handler: Callable) -> Verdict:
    """Exercise 6: a handler for customer_orders, caught up on the practice shop in small batches."""
    store = practice_shop()
    expected = store.sql("""
        SELECT (data ->> 'user_id')::BIGINT AS user_id, count(*) AS orders, min(recorded_at) AS first_order
        FROM events WHERE type = 'OrderPlaced' GROUP BY ALL ORDER BY user_id""").df()
    table = "SELECT user_id, orders, first_order FROM customer_orders ORDER BY user_id"
    try:
        catch_up(store, customer_orders(handler), batch_size=10)
    except ProjectionError as error:
        cause = error.__cause__
        if isinstance(cause, NotImplementedError):
            return not_yet("the handler still raises NotImplementedError: replace it with your code")
        event = error.event
        if "Duplicate key" in str(cause) and event is not None:
            return not_yet(f"the second order of customer {event.data['user_id']} (at position "
                                   f"{error.position}) collided with the row of the first: the first order "
                                   f"of a customer makes the row, the next ones add to it "
                                   f"(INSERT ... ON CONFLICT (user_id) DO UPDATE SET ...)")
        return not_yet(f"the handler fails at position {error.position}: "
                               f"{type(cause).__name__}: {cause}")
    got = store.sql(table).df()
    if len(got) != len(expected) or list(got["user_id"]) != list(expected["user_id"]):
        return not_yet(f"customer_orders should have one row per customer, for "
                               f"{list(expected['user_id'])}; it has rows for {list(got['user_id'])}")
    for want, row in zip(expected.itertuples(), got.itertuples()):
        if row.orders != want.orders:
            return not_yet(f"customer {want.user_id} placed {want.orders} orders, the table says "
                                   f"{row.orders}: each order adds one to the row already there")
        if row.first_order != want.first_order:
            return not_yet(f"customer {want.user_id} first ordered at {want.first_order}, the table "
                                   f"says {row.first_order}: a later order must not move first_order")
    return solved(f"{int(expected['orders'].sum())} orders of {len(expected)} customers, "
                          f"caught up 10 events at a time")


# -- exercise 7: optimistic concurrency ---------------------------------------------------------


class BusyStore(EventStore):
    """A store where a rival writer appends ``rival`` to a stream just before your first append to it."""

    def __init__(self, rival: dict[str, list[object]], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.rival = dict(rival)
        self.appends = 0

    def append(self, stream_id: str, events, expected_version="any", *, metadata=None):
        self.appends += 1
        if self.appends > 10:
            raise RuntimeError("more than ten appends for one command; after a ConcurrencyError, read the "
                               "stream again, so that the next append expects its new version")
        rival = self.rival.pop(stream_id, None)
        if rival:
            super().append(stream_id, rival)  # the other clerk was quicker
        return super().append(stream_id, events, expected_version, metadata=metadata)


def _placed_order(rival: list[object]) -> BusyStore:
    store = BusyStore({}, clock=ticking_clock(SHOP_START, timedelta(minutes=1)), ids=seeded_ids(7))
    handle(store, orders.decider, "order-300", orders.PlaceOrder("300", 6, ["a"]))
    store.rival = {"order-300": rival} if rival else {}
    return store


def check_handle(my_handle: Callable[[EventStore, Decider, str, object], object]) -> Verdict:
    """Exercise 7: read, decide, append with the version read, and on ConcurrencyError start over."""
    pay = orders.PayOrder("300", 10)
    cases = [
        ("nobody else writes", [], ["OrderPlaced", "OrderPaid"], None),
        ("another clerk adds an item first", [orders.ItemAdded("300", "b")],
         ["OrderPlaced", "ItemAdded", "OrderPaid"], None),
        ("another clerk pays first", [orders.OrderPaid("300", 10)], ["OrderPlaced", "OrderPaid"], "rejected"),
    ]
    for situation, rival, types, outcome in cases:
        store = _placed_order(rival)
        try:
            my_handle(store, orders.decider, "order-300", pay)
            result = None
        except NotImplementedError:
            return not_yet("my_handle still raises NotImplementedError: replace it with your code")
        except CommandRejected:
            result = "rejected"
        except ConcurrencyError:
            return not_yet(f"when {situation}, a ConcurrencyError escaped: catch it, read the stream "
                                   f"again, decide again and append again")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"when {situation}, my_handle fails: {type(error).__name__}: {error}")
        written = [e.type for e in store.read("order-300")]
        if written.count("OrderPaid") > 1:
            return not_yet(f"when {situation}, the order was paid twice ({written}): append with "
                                   f"expected_version, the version you read, and decide again on fresh state")
        if written != types:
            return not_yet(f"when {situation}, the stream should hold {types}; it holds {written}")
        if result != outcome:
            return not_yet(f"when {situation}, the payment should be rejected (CommandRejected) "
                                   f"after reading the stream again" if outcome else
                            f"when {situation}, the payment should go through, but it was rejected")
    return solved("no payment lost, none made twice: a stale decision is made again on fresh state")
