"""The workload "orders-v1" (see shared/workload-orders-v1.md), shared by both sides.

Pure and deterministic: the same seed gives the same orders, in the same order,
on every machine. Commands are neutral tuples that each side translates into
its own API, so neither side sees the other's classes:

    ("place", user_id, items)   ("add", item)   ("pay", amount)   ("ship",)

This module also says what the right answers are (the state of an order after
its first v events), so each side can check what it computed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

SEED = 20240601

Command = tuple


@dataclass(frozen=True)
class Order:
    """One order of the workload: placed with two items, k more added, paid, shipped."""

    index: int
    order_id: UUID
    user_id: int
    items: tuple[str, ...]
    extra: tuple[str, ...]
    amount: int

    def commands(self) -> list[Command]:
        """The order's commands, in order: 3 + k of them, one event each."""
        return [("place", self.user_id, list(self.items)), *(("add", item) for item in self.extra),
                ("pay", self.amount), ("ship",)]

    def state_after(self, version: int | None = None) -> tuple[int, float, str, int]:
        """(item count, paid, status, version) after the first ``version`` events (None: all)."""
        kinds = [command[0] for command in self.commands()][:version]
        status = {"place": "Placed", "add": "Placed", "pay": "Paid", "ship": "Shipped"}[kinds[-1]]
        return 2 + kinds.count("add"), self.amount if "pay" in kinds else 0, status, len(kinds)


def _sku(rng: random.Random) -> str:
    return f"sku-{rng.randint(0, 9999):04d}"


def orders(n: int, seed: int = SEED) -> Iterator[Order]:
    """The first ``n`` orders, drawn exactly as the workload file says."""
    rng = random.Random(seed)
    for i in range(n):
        order_id = uuid5(NAMESPACE_URL, f"orders-v1/order/{i}")
        user_id = rng.randint(1, 10_000)
        items = tuple(_sku(rng) for _ in range(2))
        k = rng.randint(0, 3)
        extra = tuple(_sku(rng) for _ in range(k))
        yield Order(i, order_id, user_id, items, extra, 10 * (2 + k))


def long_stream(n: int, m: int, seed: int = SEED) -> tuple[UUID, list[str]]:
    """The long stream's id and its ``m`` items, drawn after the ``n`` orders."""
    rng = random.Random(seed)
    for _ in range(n):  # replay the orders' draws: 3 + k randint calls each
        rng.randint(1, 10_000)
        rng.randint(0, 9999), rng.randint(0, 9999)
        for _ in range(rng.randint(0, 3)):
            rng.randint(0, 9999)
    return uuid5(NAMESPACE_URL, "orders-v1/long/0"), [_sku(rng) for _ in range(m)]


def read_order() -> Order:
    """An extra order of exactly 10 events (7 items added), for the read-one-stream phase."""
    return Order(-1, uuid5(NAMESPACE_URL, "orders-v1/read/0"), 1, ("sku-0000", "sku-0001"),
                 tuple(f"sku-{i:04d}" for i in range(2, 9)), 90)


def commands(batch: Iterable[Order]) -> Iterator[tuple[Order, Command]]:
    """Every command of the orders, order after order."""
    for order in batch:
        for command in order.commands():
            yield order, command


def expected_states(batch: Iterable[Order], version: int | None = None) -> dict[str, tuple]:
    """order id (str) -> (item count, paid, status, version) after ``version`` events."""
    return {str(order.order_id): order.state_after(version) for order in batch}


def expected_after_events(batch: Iterable[Order], count: int) -> dict[str, tuple]:
    """The states after the first ``count`` events of the whole log (a moment in the middle)."""
    states, seen = {}, 0
    for order in batch:
        take = min(len(order.commands()), count - seen)
        if take <= 0:
            break
        states[str(order.order_id)] = order.state_after(take)
        seen += take
    return states


def summary(states: dict[str, tuple]) -> dict:
    """A small fingerprint of many order states that both sides can compare."""
    return {"orders": len(states), "items": sum(s[0] for s in states.values()),
            "paid": float(sum(s[1] for s in states.values())),
            "versions": sum(s[3] for s in states.values()),
            "status": dict(sorted(Counter(s[2] for s in states.values()).items()))}


def check(computed: dict[str, tuple], expected: dict[str, tuple], what: str) -> dict:
    """Fail loudly if a side computed a wrong state; return the summary of the right ones."""
    if computed.keys() != expected.keys():
        missing, extra = expected.keys() - computed.keys(), computed.keys() - expected.keys()
        raise AssertionError(f"{what}: {len(missing)} orders missing, {len(extra)} unexpected "
                             f"(e.g. {sorted(missing | extra)[:2]})")
    wrong = [key for key in expected if tuple(computed[key]) != tuple(expected[key])]
    if wrong:
        key = wrong[0]
        raise AssertionError(f"{what}: {len(wrong)} orders have a wrong state, e.g. {key}: "
                             f"computed {computed[key]}, expected {expected[key]}")
    return summary(computed)
