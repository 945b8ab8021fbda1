"""Sample data: a few weeks of a small online coffee shop, made by running commands through the deciders.

Every event in the sample was *decided*: the simulation sends commands
(``PlaceOrder``, ``AddItem``, ``PayOrder`` ...) to the real order and stock
deciders of :mod:`eventlab.examples.orders` and keeps only what they accept, at
the next version of the stream they decided on. So the sample obeys the
business rules exactly as live data would, rejections included: an order for a
sold-out SKU is refused and leaves no event at all.

What happens in the shop:

- a catalogue of SKUs (:data:`CATALOGUE`), stocked at the start and restocked
  every Monday morning, not always enough: popular SKUs sell out at weekends;
- orders placed around the clock, quiet at night, busy in the evening and at
  weekends; carts that grow (``ItemAdded``) and shrink (``ItemRemoved``);
- payments, shipments in the warehouse's working hours, cancellations, and
  abandoned carts (placed, never paid);
- late bank transfers: an ``OrderPaid`` recorded days after the customer paid,
  whose ``occurred_at`` says when the money moved. "What did we know on
  Tuesday?" and "what had happened by Tuesday?" get different answers.

Determinism: one ``random.Random(seed)`` drives everything, ``recorded_at`` is
the simulated moment each command was handled, and event ids are counted from a
uuid5 of the arguments. The same arguments give the same log, hash for hash.

>>> events = generate_orders(n_orders=50, seed=1)
>>> events.columns.tolist()[:5]
['position', 'stream_id', 'version', 'type', 'data']
"""

from __future__ import annotations

import argparse
import itertools
import json
import uuid
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from typing import Any

import pandas as pd

from eventlab.application import snapshots
from eventlab.application.sqlmacros import install_macros
from eventlab.core.decider import Decider, replay
from eventlab.core.events import compact_json, type_name_of
from eventlab.core.fastpaths import gc_paused
from eventlab.errors import CommandRejected, EventLabError
from eventlab.examples import orders
from eventlab.storage.store import EventStore

START = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400

CATALOGUE: dict[str, float] = {
    "espresso-beans": 14.50, "filter-coffee": 11.00, "mug": 9.90, "green-tea": 7.25,
    "biscuits": 4.80, "earl-grey": 6.50, "filters": 3.20, "travel-mug": 18.00, "cocoa": 8.00,
    "honey": 6.90, "french-press": 29.00, "milk-frother": 24.00, "syrup": 5.50, "teapot": 27.50,
    "kettle": 39.00, "grinder": 45.00,
}
"""SKU -> price. SKUs are listed from the most to the least popular."""

COLUMNS = ["position", "stream_id", "version", "type", "data", "metadata", "event_id",
           "occurred_at", "recorded_at", "schema_version"]
"""The columns of :func:`generate_orders`, the import format plus position and version."""

_SKUS = list(CATALOGUE)
_POPULARITY = list(itertools.accumulate(1 / rank ** 0.8 for rank in range(1, len(_SKUS) + 1)))
_HOURLY = (0.15, 0.08, 0.05, 0.04, 0.04, 0.06, 0.12, 0.25, 0.35, 0.40, 0.45, 0.50,
           0.60, 0.55, 0.50, 0.50, 0.55, 0.65, 0.80, 0.95, 1.00, 0.95, 0.70, 0.35)
_WEEKDAY = (0.90, 0.85, 0.90, 0.95, 1.10, 1.35, 1.30)  # Monday .. Sunday
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/eventlab/sample")
_LATE = json.dumps({"channel": "bank-transfer",
                    "note": "reported by the bank days after the customer paid; "
                            "occurred_at is when the money moved"})
Action = tuple[int, int, str, str, Any]  # (second since start, sequence, kind, order id or sku, argument)


def generate_orders(n_orders: int = 1000, seed: int = 7, *, start: datetime = START, weeks: int = 6,
                    progress: bool = False) -> pd.DataFrame:
    """The event log of ``n_orders`` orders over ``weeks`` weeks from ``start``: a DataFrame.

    One row per event in log order, columns :data:`COLUMNS`: ``data`` and
    ``metadata`` are JSON text, the times are UTC. It is the import format, so
    ``EventStore.import_events(frame)`` loads it (recomputing positions and
    checking versions). ``frame.attrs["stats"]`` counts what happened, including
    what left no event (orders refused for lack of stock). About five events per order.
    """
    parts = list(generate_weeks(n_orders, seed, start=start, weeks=weeks, progress=progress))
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs["stats"] = parts[-1].attrs["stats"]
    return frame


def generate_weeks(n_orders: int = 1000, seed: int = 7, *, start: datetime = START, weeks: int = 6,
                   progress: bool = False) -> Iterator[pd.DataFrame]:
    """``generate_orders`` one simulated week at a time: the same rows, in parts, in log order.

    A big log then never sits in memory whole, and each week can be imported
    while the next one is simulated. ``part.attrs["stats"]`` counts up to that week.
    """
    from tqdm.auto import tqdm

    if n_orders < 0 or weeks < 1:
        raise EventLabError(f"the sample needs n_orders >= 0 and weeks >= 1, got {n_orders} and {weeks}")
    rng = Random(seed)
    shop = _Shop(rng)
    with gc_paused():
        actions = [action for action in _plan(rng, n_orders, start, weeks) if action[0] < weeks * WEEK]
    sample = str(uuid.uuid5(_NAMESPACE, f"{seed}/{n_orders}/{start.isoformat()}/{weeks}"))
    bar = tqdm(total=len(actions), desc="simulating", unit="command", unit_scale=True, disable=not progress)
    position = 1
    for _, week in itertools.groupby(actions, key=lambda action: action[0] // WEEK):
        week = list(week)
        with gc_paused():
            for second, _, kind, key, argument in week:
                shop.now = second
                getattr(shop, kind)(key, argument)
            part = _frame(shop.log, start, id_prefix=sample[:24], first_position=position)
        position += len(part)
        shop.log.clear()
        part.attrs["stats"] = shop.summary()
        bar.update(len(week))
        yield part
    bar.close()


def demo_store(path: str | Path | None = None, n_orders: int = 1000, seed: int = 7, *,
               progress: bool = False, snapshot_every: int | None = None) -> EventStore:
    """A store holding ``generate_orders(n_orders, seed)``, with the time-travel SQL macros installed.

    ``path=None`` gives an in-memory store; a file path gives a store you can
    open again, also in the DuckDB command line. The events go in by bulk
    import, which keeps their simulated timestamps (the store adds the hash
    chain), one week at a time: DuckDB imports a week on a second thread while
    Python simulates the next. With ``snapshot_every=n``, every stream of orders
    and stock gets a snapshot at each n-th version (``snapshots.take_every``): the
    long stock streams' checkpoints, so that time travel and the sliders never
    replay more than n events of them.
    """
    store = EventStore(path)
    try:
        with ThreadPoolExecutor(max_workers=1) as importer:
            importing: Future | None = None
            for part in generate_weeks(n_orders, seed, progress=progress):
                if importing is not None:
                    importing.result()  # one import at a time, in log order
                importing = importer.submit(store.import_events, part)
            importing.result()
        install_macros(store, orders.decider)
        if snapshot_every is not None:
            for decider in (orders.decider, orders.stock_decider):
                snapshots.take_every(store, decider, snapshot_every)
    except BaseException:
        store.close()
        raise
    return store


def write_data(folder: str | Path, n_orders: int = 3000, seed: int = 7) -> list[Path]:
    """Write the shipped sample, ``orders-sample.parquet`` and ``orders-sample.csv``, into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    events = generate_orders(n_orders, seed)
    parquet, csv = folder / "orders-sample.parquet", folder / "orders-sample.csv"
    events.to_parquet(parquet, index=False)
    events.to_csv(csv, index=False)
    return [parquet, csv]


# --- the plan: what customers, the warehouse and the bank will do, and when ------------------


def _plan(rng: Random, n_orders: int, start: datetime, weeks: int) -> list[Action]:
    """Every action of the simulation, sorted by time; decided up front except what depends on state."""
    actions: list[Action] = []

    def at(second: float, kind: str, key: str, argument: Any = None) -> None:
        actions.append((round(second), len(actions), kind, key, argument))

    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    phase = (start - midnight).total_seconds() + start.weekday() * DAY
    busy = [_WEEKDAY[slot // 24] * _HOURLY[slot % 24] for slot in range(7 * 24)]

    def hour_of_week(second: float) -> int:
        return int((phase + second) % WEEK // HOUR)

    works = [slot // 24 < 6 and 8 <= slot % 24 < 18 for slot in range(7 * 24)]  # Mon-Sat 8-18
    wait = [next(h for h in range(7 * 24) if works[(slot + h) % (7 * 24)]) for slot in range(7 * 24)]

    def working_hours(second: float) -> float:
        """The first moment from ``second`` (in whole hours) when the warehouse or the bank works."""
        return second + wait[hour_of_week(second)] * HOUR

    def sku() -> str:
        return _SKUS[bisect(_POPULARITY, rng.random() * _POPULARITY[-1])]

    _plan_stock(rng, n_orders, weeks, at)
    placed_at, busiest = [], max(busy)
    while len(placed_at) < n_orders:  # rejection sampling: busy hours keep more of the draws
        second = rng.random() * weeks * WEEK
        if rng.random() * busiest < busy[hour_of_week(second)]:
            placed_at.append(second)
    for number, second in enumerate(sorted(placed_at), start=1):
        order_id = f"{number:06d}"
        items = [sku() for _ in range(bisect((0.55, 0.85, 0.95), rng.random()) + 1)]  # 1-4 draws
        at(second, "place", order_id, (1 + int(rng.random() ** 2 * max(20, n_orders // 4)), items))
        for _ in range(bisect((0.75, 0.95), rng.random())):  # 0, 1 or 2 items added later
            second += rng.uniform(60, 15 * 60)
            at(second, "add", order_id, sku())
        if rng.random() < 0.15:
            second += rng.uniform(60, 10 * 60)
            at(second, "remove", order_id)
        fate = rng.random()
        if fate < 0.10:
            continue  # abandoned: placed, never paid
        if fate < 0.14:
            at(second + rng.uniform(0.2, 30) * HOUR, "cancel", order_id, "customer changed their mind")
            continue
        paid = second + rng.choice((rng.uniform(2, 15) * 60, rng.uniform(0.25, 3) * HOUR,
                                    rng.uniform(3, 30) * HOUR))
        if rng.random() < 0.02:  # a bank transfer: the bank tells us days later
            reported = working_hours(paid + rng.uniform(2, 4) * DAY)
            at(reported, "pay", order_id, round(paid))
            paid = reported
        else:
            at(paid, "pay", order_id)
        if rng.random() < 0.03:
            at(paid + rng.uniform(0.5, 20) * HOUR, "cancel", order_id, "customer cancelled after paying")
        else:
            at(working_hours(paid + rng.uniform(2, 40) * HOUR), "ship", order_id)
    actions.sort()
    return actions


def _plan_stock(rng: Random, n_orders: int, weeks: int, at: Callable[..., None]) -> None:
    """Deliveries: a week's expected demand per SKU at the start, then every Monday at 06:00.

    Each delivery is 75-125% of the expected demand, so some weeks run short.
    """
    units_per_week = 1.9 * n_orders / weeks
    for week in range(weeks):
        for rank, sku in enumerate(_SKUS):
            share = (_POPULARITY[rank] - (_POPULARITY[rank - 1] if rank else 0)) / _POPULARITY[-1]
            quantity = max(1, round(units_per_week * share * rng.uniform(0.75, 1.25)))
            at(week * WEEK + (6 * HOUR if week else 0) + rank * 60, "restock", sku, quantity)


# --- the shop: commands through the deciders, events into the log ----------------------------


class _Shop:
    """The write side of the simulated shop: each action is a command decided by the real deciders.

    ``eventlab.handle`` reads and replays a stream for every command, and a stock
    stream gains an event per order, so the simulation would slow down as the
    log grows. The shop keeps each stream's (version, state) in memory instead:
    the same ``decide``, the events written at the next versions, and ``replay``
    of the new events to move the state on. Its log becomes one bulk import.
    """

    def __init__(self, rng: Random):
        self.rng = rng
        self.now = 0  # the simulated second: recorded_at of what is decided now
        self.streams: dict[str, tuple[int, Any]] = {}
        self.log: list[tuple] = []  # one row per event not yet handed out, see _frame
        self.stats: Counter[str] = Counter()

    def run(self, commands: list[tuple[Decider, str, object]], *, occurred: int | None = None,
            metadata: str = "{}") -> bool:
        """Decide every command on its own stream, then log all the events, or none (False)."""
        decided = []
        for decider, stream_id, command in commands:
            version, state = self.streams.get(stream_id) or (0, decider.initial_state)
            try:
                decided.append((decider, stream_id, version, state, decider.decide(command, state)))
            except CommandRejected:
                return False
        log, now = self.log.append, self.now
        for decider, stream_id, version, state, events in decided:
            for event in events:
                version += 1
                # vars(event) is payload_of(event) for these events: their fields are plain JSON values
                log((now, occurred, stream_id, version, type_name_of(event), compact_json(vars(event)),
                     metadata, type(event).__eventlab_schema_version__))
            self.streams[stream_id] = (version, replay(events, decider, state))
        return True

    def order(self, order_id: str) -> orders.OrderState:
        return self.streams.get(orders.stream_id(order_id), (0, orders.decider.initial_state))[1]

    def restock(self, sku: str, quantity: int) -> None:
        self.run([(orders.stock_decider, orders.stock_stream_id(sku), orders.ReceiveStock(sku, quantity))])

    def place(self, order_id: str, argument: tuple[int, list[str]]) -> None:
        """Place the order and reserve its stock, all or nothing (as ``place_order_reserving_stock``)."""
        user_id, items = argument
        reserve = [(orders.stock_decider, orders.stock_stream_id(sku), orders.ReserveStock(sku, n, order_id))
                   for sku, n in sorted(Counter(items).items())]
        placed = self.run([(orders.decider, orders.stream_id(order_id),
                            orders.PlaceOrder(order_id, user_id, items)), *reserve])
        self.stats["orders_placed" if placed else "orders_rejected_for_stock"] += 1

    def add(self, order_id: str, sku: str) -> None:
        if self._exists(order_id) and not self.run([
                (orders.decider, orders.stream_id(order_id), orders.AddItem(order_id, sku)),
                (orders.stock_decider, orders.stock_stream_id(sku), orders.ReserveStock(sku, 1, order_id))]):
            self.stats["items_refused_for_stock"] += 1

    def remove(self, order_id: str, _: None) -> None:
        items = self.order(order_id).items
        if self._exists(order_id) and len(items) > 1:  # customers keep at least one item
            sku = self.rng.choice(items)
            self._command(order_id, orders.RemoveItem(order_id, sku), orders.ReleaseStock(sku, 1, order_id))

    def pay(self, order_id: str, occurred: int | None) -> None:
        """Pay for the items in the cart now; ``occurred`` is set for a payment the bank reports late."""
        if not self._exists(order_id):
            return
        amount = round(sum(CATALOGUE[sku] for sku in self.order(order_id).items), 2)
        late = occurred is not None
        if self.run([(orders.decider, orders.stream_id(order_id), orders.PayOrder(order_id, amount))],
                    occurred=occurred, metadata=_LATE if late else "{}"):
            self.stats["late_payments"] += late
        else:
            self.stats["commands_rejected"] += 1

    def ship(self, order_id: str, _: None) -> None:
        if self._exists(order_id):
            self._command(order_id, orders.ShipOrder(order_id))

    def cancel(self, order_id: str, reason: str) -> None:
        """Cancel the order and give its reserved stock back."""
        if self._exists(order_id):
            self._command(order_id, orders.CancelOrder(order_id, reason), *[
                orders.ReleaseStock(sku, n, order_id)
                for sku, n in sorted(Counter(self.order(order_id).items).items())])

    def _command(self, order_id: str, command: object, *stock: orders.ReleaseStock) -> None:
        if not self.run([(orders.decider, orders.stream_id(order_id), command),
                         *[(orders.stock_decider, orders.stock_stream_id(s.sku), s) for s in stock]]):
            self.stats["commands_rejected"] += 1

    def _exists(self, order_id: str) -> bool:
        """Only placed orders have a next step: a refused order never existed."""
        return self.order(order_id).status is not orders.OrderStatus.NEW

    def summary(self) -> dict[str, int]:
        """What happened, including what left no event: refused orders and items."""
        statuses = Counter(state.status.value for stream_id, (_, state) in self.streams.items()
                           if stream_id.startswith("order-"))
        return {"orders_placed": self.stats["orders_placed"],
                "orders_rejected_for_stock": self.stats["orders_rejected_for_stock"],
                "items_refused_for_stock": self.stats["items_refused_for_stock"],
                "unpaid_at_the_end": statuses["Placed"], "paid_not_shipped": statuses["Paid"],
                "shipped": statuses["Shipped"], "cancelled": statuses["Cancelled"],
                "late_payments": self.stats["late_payments"],
                "commands_rejected": self.stats["commands_rejected"]}


def _frame(log: list[tuple], start: datetime, id_prefix: str, first_position: int) -> pd.DataFrame:
    """The shop's log as a DataFrame in the import format.

    Event ids are counted: the first 24 characters of a uuid5 naming the sample,
    then the position in 12 hex digits (still a well-formed UUID, unique per event).
    """
    frame = pd.DataFrame(log, columns=["recorded", "occurred", "stream_id", "version", "type", "data",
                                       "metadata", "schema_version"])
    origin = pd.Timestamp(start).tz_convert("UTC")
    frame["position"] = range(first_position, first_position + len(frame))
    frame["event_id"] = [f"{id_prefix}{position:012x}" for position in frame["position"]]
    for column in ("occurred", "recorded"):
        moments = origin + pd.to_timedelta(frame.pop(column), unit="s")
        frame[f"{column}_at"] = moments.astype("datetime64[us, UTC]")
    return frame[COLUMNS]


def main(argv: list[str] | None = None) -> None:
    """``python -m eventlab.sample --write-data data/``: regenerate the shipped sample files."""
    parser = argparse.ArgumentParser(prog="python -m eventlab.sample", description=main.__doc__)
    parser.add_argument("--write-data", metavar="FOLDER", required=True, type=Path)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for path in write_data(args.write_data, args.orders, args.seed):
        print(path)


if __name__ == "__main__":
    main()
