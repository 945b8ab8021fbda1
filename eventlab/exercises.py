"""Checks for the exercises notebook: each one tells the learner whether they got it, and why not.

A check never raises: it returns a ``Verdict`` that shows as one line, so the
exercises notebook runs top to bottom before anyone has solved anything.
The solutions live apart, in ``notebooks/solutions/``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd

from eventlab.determinism import seeded_ids, ticking_clock
from eventlab.errors import CommandRejected
from eventlab.events import event_type
from eventlab.examples import orders
from eventlab.model import handle
from eventlab.store import EventStore

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


@dataclass(frozen=True)
class Verdict:
    """What a check found: true when the exercise is solved; shows itself as one line."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ("✅ " if self.ok else "❌ Not yet: ") + self.message


def _verdict(ok: bool, message: str) -> Verdict:
    return Verdict(ok, message)


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
                    return _verdict(False, f"after {history[:n]} the state should be {expected}, "
                                           f"your evolve gives {actual}")
        except NotImplementedError:
            return _verdict(False, "evolve still raises NotImplementedError: replace it with your code")
    return _verdict(True, "evolve folds every history to the right balance")


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
            return _verdict(False, "decide still raises NotImplementedError: replace it with your code")
        except CommandRejected:
            outcome = "rejected"
        if outcome != expected:
            return _verdict(False, f"given {state}, {command} should give {expected}, got {outcome}")
    return _verdict(True, "withdrawals within the balance pass, the rest are rejected")


# -- a small shop for exercises 3 and 4 ------------------------------------------------------

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
        return _verdict(False, "answer is still None: set it to the status of order 007")
    ok = str(answer) == expected
    return _verdict(ok, f"order 007 was {expected!r} then" if ok
                    else f"{answer!r} is not it: replay only what was recorded by that moment")


def _status_at(store: EventStore, stream_id: str, moment: datetime) -> str:
    from eventlab.timetravel import state_at

    return str(state_at(store, stream_id, orders.decider, as_of=moment).status)


def check_paid_per_day(store: EventStore, query: str | None) -> Verdict:
    """Exercise 4: SQL giving, per day, how many orders were paid and the amount (day, orders, amount)."""
    if not query:
        return _verdict(False, f"query is {'still None' if query is None else 'empty'}: set it to your SQL")
    expected = store.sql("""
        SELECT recorded_at::DATE AS day, count(*) AS orders, sum((data ->> 'amount')::DOUBLE) AS amount
        FROM events WHERE type = 'OrderPaid' GROUP BY ALL ORDER BY day""").df()
    try:
        got = store.sql(query).df()
    except Exception as error:  # a learner's SQL may fail in any way DuckDB can
        return _verdict(False, f"the query fails: {str(error).splitlines()[0]}")
    got.columns = [c.lower() for c in got.columns]
    if list(got.columns) != ["day", "orders", "amount"]:
        return _verdict(False, f"the columns should be day, orders, amount; got {list(got.columns)}")
    try:
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    except AssertionError:
        return _verdict(False, f"expected\n{expected}\nbut got\n{got}")
    return _verdict(True, f"{int(expected['orders'].sum())} payments over {len(expected)} days")
