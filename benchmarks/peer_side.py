"""The peer side: the same phases with the ``eventsourcing`` library (9.5) on SQLite files.

An ``Order`` aggregate with the same rules as ``eventlab.examples.orders``; one
``save()`` per command; the repository cache off (the library's default). Time
travel is ``repository.get(id, version=...)``; "as of a moment", which the
library has no call for, is one pass over the application's notification log; so is
the order summary read model. The time slider has no equivalent here: that phase is
not registered on this side.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from itertools import islice
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from benchmarks import workload
from benchmarks.harness import Context, Registry, Timer, median, percentile, progress

PHASES = Registry()


class Rejected(Exception):
    """A command that breaks a business rule."""


class Order(Aggregate):
    """An order: placed with items, items added while unpaid, paid once, shipped once paid."""

    @staticmethod
    def create_id(order_id: str) -> UUID:
        return UUID(order_id)

    @event("Placed")
    def __init__(self, order_id: str, user_id: int, items: list[str]):
        self.order_id = order_id
        self.user_id = user_id
        self.items = list(items)
        self.paid = 0
        self.status = "Placed"

    def add_item(self, item: str) -> None:
        if self.status != "Placed":
            raise Rejected(f"order {self.order_id} is {self.status}; items can change only before payment")
        self._item_added(item)

    def pay(self, amount: float) -> None:
        if self.status != "Placed" or not self.items or not amount > 0:
            raise Rejected(f"order {self.order_id} cannot be paid {amount} (status {self.status})")
        self._paid(amount)

    def ship(self) -> None:
        if self.status != "Paid":
            raise Rejected(f"order {self.order_id} is {self.status}; only a paid order ships")
        self._shipped()

    @event("ItemAdded")
    def _item_added(self, item: str) -> None:
        self.items.append(item)

    @event("Paid")
    def _paid(self, amount: float) -> None:
        self.paid += amount
        self.status = "Paid"

    @event("Shipped")
    def _shipped(self) -> None:
        self.status = "Shipped"


class Shop(Application):
    log_section_size = 10_000  # notifications per select() when scanning the whole log


def _app(path, *, snapshots: bool = False) -> Shop:
    """An application over the SQLite file (``snapshots``: with its snapshot store switched on)."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    if snapshots:
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
    app = Shop(env=env)
    assert app.repository.cache is None, "unset AGGREGATE_CACHE_MAXSIZE: the workload runs uncached"
    assert (app.snapshots is not None) == snapshots, "IS_SNAPSHOTTING_ENABLED is set in the environment"
    return app


def _run(app: Shop, order_id: UUID, command: workload.Command, cache: dict | None = None) -> Order:
    """Carry out one command on its order (from ``cache`` if it holds it, else the repository)."""
    if command[0] == "place":
        return Order(order_id=str(order_id), user_id=command[1], items=command[2])
    order = cache[order_id] if cache and order_id in cache else app.repository.get(order_id)
    match command:
        case ("add", item):
            order.add_item(item)
        case ("pay", amount):
            order.pay(amount)
        case ("ship",):
            order.ship()
    return order


def _as_tuple(order: Order) -> tuple:
    return len(order.items), order.paid, order.status, order.version


def _scan(app: Shop, until=None, version: int | None = None) -> dict[UUID, Order]:
    """Every aggregate folded from one pass over the notification log (events until a moment,
    or each aggregate's first ``version`` events)."""
    aggregates, start = {}, 1
    while notifications := app.notification_log.select(start=start, limit=app.log_section_size):
        for notification in notifications:
            if version is not None and notification.originator_version > version:
                continue
            domain_event = app.mapper.to_domain_event(notification)
            if until is None or domain_event.timestamp <= until:
                aggregates[domain_event.originator_id] = domain_event.mutate(
                    aggregates.get(domain_event.originator_id))
        start = notifications[-1].id + 1
    return aggregates


class Floor:
    """The cost of SQLite alone: a bare one-row INSERT (autocommit) into a plain table, same file."""

    def __init__(self, path):
        self.con = sqlite3.connect(str(path), isolation_level=None)
        self.con.execute("CREATE TABLE IF NOT EXISTS bench_floor "
                         "(originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB)")

    def insert(self) -> float:
        row = (uuid.uuid4().hex, 2, "benchmarks.peer_side:Order.ItemAdded",
               b'{"timestamp":{"_type_":"datetime_iso","_data_":"2024-06-01T00:00:00.000000+00:00"},'
               b'"item":"sku-1234"}')
        start = time.perf_counter()
        self.con.execute("INSERT INTO bench_floor VALUES (?, ?, ?, ?)", row)
        return time.perf_counter() - start

    def close(self) -> None:
        self.con.close()


@PHASES.add("append")
def append(ctx: Context) -> dict:
    size = ctx.size
    if size.append_orders is None:
        batch, path = list(workload.orders(size.n_orders)), ctx.path("append.sqlite")
    else:
        batch = list(islice(workload.orders(size.n_orders + size.append_orders), size.n_orders, None))
        path = ctx.path("orders.sqlite")
    commands = [(order.order_id, command) for order, command in workload.commands(batch)]
    app = _app(path)
    floor = Floor(path)
    latencies, floors = [], []
    for order_id, command in progress(commands, len(commands), "peer append"):
        start = time.perf_counter()
        app.save(_run(app, order_id, command))
        latencies.append(time.perf_counter() - start)
        floors.append(floor.insert())
    floor.close()
    app.close()
    return {"figures": {
        "events/s": len(latencies) / sum(latencies),
        "p50 ms": percentile(latencies, 50) * 1e3, "p95 ms": percentile(latencies, 95) * 1e3,
        "floor p50 ms": percentile(floors, 50) * 1e3, "floor p95 ms": percentile(floors, 95) * 1e3,
    }, "check": {"events": len(latencies)}}


@PHASES.add("append-batched")
def append_batched(ctx: Context) -> dict:
    """``size.batch`` commands per ``save(*aggregates)`` (one transaction): builds orders.sqlite."""
    commands = [(order.order_id, command)
                for order, command in workload.commands(workload.orders(ctx.size.n_orders))]
    middle = len(commands) // 2
    app, batch = _app(ctx.path("orders.sqlite")), ctx.size.batch
    starts = range(0, len(commands), batch)
    with Timer() as timer:
        for start in progress(starts, len(starts), "peer append-batched", "batch",
                              show=len(commands) >= 2_000):
            touched: dict[UUID, Order] = {}
            for i, (order_id, command) in enumerate(commands[start:start + batch], start + 1):
                touched[order_id] = _run(app, order_id, command, touched)
                if i == middle:
                    ctx.notes["middle"] = (touched[order_id].modified_on, middle)
            app.save(*touched.values())
    events = app.recorder.max_notification_id()
    app.close()
    return {"figures": {"events/s": len(commands) / timer.seconds}, "check": {"events": events}}


@PHASES.add("import")
def import_(ctx: Context) -> dict:
    """The library has no bulk import: its lowest public write, ``recorder.insert_events``, in one call."""
    source, stored, start = _app(ctx.path("orders.sqlite")), [], 1
    while notifications := source.notification_log.select(start=start, limit=source.log_section_size):
        stored += [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                   for n in notifications]
        start = notifications[-1].id + 1
    source.close()
    app = _app(ctx.path("import.sqlite"))
    with Timer() as timer:
        app.recorder.insert_events(stored)
    events = app.recorder.max_notification_id()
    app.close()
    return {"figures": {"events/s": len(stored) / timer.seconds}, "check": {"events": events}}


@PHASES.add("replay_all")
def replay_all(ctx: Context) -> dict:
    """A fresh application over the file gets every order from its repository; then one log scan."""
    expected = workload.expected_states(workload.orders(ctx.size.n_orders))
    ids = [UUID(key) for key in expected][:ctx.size.loop_orders]
    figures = {}
    with Timer() as timer:
        app = _app(ctx.path("orders.sqlite"))
        states = {str(i): _as_tuple(app.repository.get(i))
                  for i in progress(ids, len(ids), "peer repository.get", "order")}
    app.close()
    loop = workload.check(states, {str(i): expected[str(i)] for i in ids}, "replay_all [repository.get]")
    figures["orders/s"] = len(ids) / timer.seconds
    figures["events/s"] = loop["versions"] / timer.seconds
    with Timer() as timer:
        app = _app(ctx.path("orders.sqlite"))
        aggregates = _scan(app)
    app.close()
    check = workload.check({str(i): _as_tuple(a) for i, a in aggregates.items()}, expected, "log scan")
    figures["orders/s log scan"] = len(aggregates) / timer.seconds
    return {"figures": figures, "check": check}


@PHASES.add("time_travel")
def time_travel(ctx: Context) -> dict:
    """Every order at version 3: ``repository.get(id, version=3)`` in a loop; then one log scan."""
    expected = workload.expected_states(workload.orders(ctx.size.n_orders), 3)
    ids = [UUID(key) for key in expected][:ctx.size.loop_orders]
    app = _app(ctx.path("orders.sqlite"))
    with Timer() as timer:
        states = {str(i): _as_tuple(app.repository.get(i, version=3))
                  for i in progress(ids, len(ids), "peer repository.get(version=3)", "order")}
    workload.check(states, {str(i): expected[str(i)] for i in ids}, "time_travel [repository.get]")
    figures = {"orders/s": len(ids) / timer.seconds}
    with Timer() as timer:
        aggregates = _scan(app, version=3)
    app.close()
    check = workload.check({str(i): _as_tuple(a) for i, a in aggregates.items()}, expected,
                           "time_travel [log scan]")
    figures["orders/s log scan"] = len(aggregates) / timer.seconds
    return {"figures": figures, "check": check}


@PHASES.add("states_at")
def states_at_middle(ctx: Context) -> dict:
    """Every order as of the middle event's moment: one pass over the log, events up to then."""
    moment, count = ctx.notes["middle"]
    expected = workload.expected_after_events(workload.orders(ctx.size.n_orders), count)
    app = _app(ctx.path("orders.sqlite"))
    with Timer() as timer:
        aggregates = _scan(app, until=moment)
    app.close()
    check = workload.check({str(i): _as_tuple(a) for i, a in aggregates.items()}, expected, "states_at")
    return {"figures": {"s": timer.seconds}, "check": check}


@PHASES.add("long_stream")
def long_stream(ctx: Context) -> dict:
    """Cold replay of one aggregate of 1 + M events: a fresh application, ``repository.get``."""
    long_id, items = workload.long_stream(ctx.size.n_orders, ctx.size.long_items)
    path = ctx.path("long.sqlite")
    app = _app(path)
    order = Order(order_id=str(long_id), user_id=1, items=[])
    for start in range(0, len(items), 1_000):
        for item in items[start:start + 1_000]:
            order.add_item(item)
        app.save(order)
    app.close()
    times = []
    for _ in range(ctx.size.repeats):
        with Timer() as timer:
            app = _app(path)
            order = app.repository.get(long_id)
        app.close()
        assert len(order.items) == len(items), (len(order.items), len(items))
        times.append(timer.seconds)
    figures, check = {"s": median(times)}, {"items": len(order.items)}
    figures.update(_from_snapshot(ctx, path, long_id, len(items), check))
    return {"figures": figures, "check": check}


def _from_snapshot(ctx: Context, path, long_id: UUID, n_items: int, check: dict) -> dict:
    """Snapshotting on: ``app.take_snapshot`` at the head, then ``repository.get`` from the snapshot,
    with a new application each time and on one already open (medians of ``size.snapshot_reads``)."""
    app = _app(path, snapshots=True)
    with Timer() as take:
        app.take_snapshot(long_id)
    app.close()
    cold, warm = [], []
    for _ in range(ctx.size.snapshot_reads):
        with Timer() as timer:
            app = _app(path, snapshots=True)
            order = app.repository.get(long_id)
        app.close()
        cold.append(timer.seconds)
    assert len(order.items) == n_items, (len(order.items), n_items)
    app = _app(path, snapshots=True)
    [snapshot] = app.snapshots.get(long_id, desc=True, limit=1)
    for i in range(ctx.size.snapshot_reads + 3):
        with Timer() as timer:
            order = app.repository.get(long_id)
        if i >= 3:
            warm.append(timer.seconds)
    app.close()
    assert len(order.items) == n_items, (len(order.items), n_items)
    check.update({"items from snapshot": len(order.items), "snapshot version": snapshot.originator_version})
    return {"snapshot take s": take.seconds, "ms open + from snapshot": median(cold) * 1e3,
            "ms from snapshot": median(warm) * 1e3}


def _summarize(app: Shop) -> dict[str, list]:
    """The order summary (order id -> [item count, paid, status, version]) folded by one pass over
    the notification log: what the library offers for a read model built from every event."""
    summary, start = {}, 1
    while notifications := app.notification_log.select(start=start, limit=app.log_section_size):
        for notification in notifications:
            domain_event = app.mapper.to_domain_event(notification)
            key = str(domain_event.originator_id)
            if isinstance(domain_event, Order.Placed):
                summary[key] = [len(domain_event.items), 0, "Placed", domain_event.originator_version]
                continue
            row = summary[key]
            if isinstance(domain_event, Order.ItemAdded):
                row[0] += 1
            elif isinstance(domain_event, Order.Paid):
                row[1] += domain_event.amount
                row[2] = "Paid"
            elif isinstance(domain_event, Order.Shipped):
                row[2] = "Shipped"
            row[3] = domain_event.originator_version
        start = notifications[-1].id + 1
    return summary


@PHASES.add("projection_rebuild")
def projection_rebuild(ctx: Context) -> dict:
    """No read-model tables in the library: one pass over the whole notification log, decoding each
    event, folding the order summary into a dict per order (in memory, not stored)."""
    expected = workload.expected_states(workload.orders(ctx.size.n_orders))
    app = _app(ctx.path("orders.sqlite"))
    events = app.recorder.max_notification_id()
    with Timer() as timer:
        summary = _summarize(app)
    app.close()
    check = workload.check(summary, expected, "order summary [log pass]")
    return {"figures": {"s": timer.seconds, "events/s": events / timer.seconds}, "check": check}


@PHASES.add("read_one_stream")
def read_one_stream(ctx: Context) -> dict:
    """Add the 10-event order, then read its events back (``app.events.get``; median latency)."""
    order = workload.read_order()
    path = ctx.path("orders.sqlite")
    app = _app(path)
    for command in order.commands():
        app.save(_run(app, order.order_id, command))
    app.close()
    app, times, states, floor = _app(path), [], [], []
    for i in range(ctx.size.reads + 3):
        with Timer() as timer:
            events = list(app.events.get(order.order_id))
        if i >= 3:
            times.append(timer.seconds)
    for i in range(ctx.size.reads + 3):
        with Timer() as timer:
            state = app.repository.get(order.order_id)
        if i >= 3:
            states.append(timer.seconds)
    app.close()
    con = sqlite3.connect(str(path))
    key = con.execute("SELECT originator_id, originator_version FROM stored_events "
                      "ORDER BY rowid DESC LIMIT 1").fetchall()[0]  # the order's last event, as stored
    for i in range(ctx.size.reads + 3):
        with Timer() as timer:  # SQLite's own floor: one row by the primary key, fetched
            row = con.execute("SELECT * FROM stored_events WHERE originator_id = ? "
                              "AND originator_version = ?", key).fetchall()
        if i >= 3:
            floor.append(timer.seconds)
    con.close()
    assert len(events) == 10 and state.version == 10 and len(row) == 1, (state, row)
    return {"figures": {"ms": median(times) * 1e3, "state_at ms": median(states) * 1e3,
                        "floor ms": median(floor) * 1e3}, "check": {"events": len(events)}}

