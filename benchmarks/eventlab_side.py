"""The eventlab side: the orders-v1 phases, done the way a user of eventlab would do them.

Every phase works on DuckDB files in the context's folder: ``orders.duckdb`` (the
workload, written in units of work; the replay, projection and slider phases read it),
``append.duckdb`` (the workload again, one commit per command), ``import.duckdb`` and
``long.duckdb`` (the long stream, and later its snapshot).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime, timezone
from itertools import groupby, islice

import duckdb
import pandas as pd

import eventlab
from benchmarks import workload
from benchmarks.harness import Context, Registry, Timer, apart, median, percentile, progress
from eventlab import EventStore, handle, replay, snapshots
from eventlab.events import decode
from eventlab.examples import orders, read_models
from eventlab.projections import rebuild
from eventlab.storage import schema
from eventlab.storage.store import SELECT_EVENTS
from eventlab.timetravel import state_at, states_at

PHASES = Registry()
decider = orders.decider


def _command(order_id: str, command: workload.Command) -> object:
    match command:
        case ("place", user_id, items):
            return orders.PlaceOrder(order_id, user_id, items)
        case ("add", item):
            return orders.AddItem(order_id, item)
        case ("pay", amount):
            return orders.PayOrder(order_id, amount)
        case ("ship",):
            return orders.ShipOrder(order_id)
    raise ValueError(f"unknown command {command!r}")


def prepared(batch) -> list[tuple[str, object]]:
    """(stream id, eventlab command) for every command of the orders, built before any timing."""
    return [(orders.stream_id(str(order.order_id)), _command(str(order.order_id), command))
            for order, command in workload.commands(batch)]


def _states(frame, versions: dict[str, int]) -> dict[str, tuple]:
    """states_at's DataFrame as order id -> (item count, paid, status, version)."""
    return {sid.removeprefix("order-"): (len(items), paid, str(status), versions[sid])
            for sid, items, paid, status in zip(frame["stream_id"], frame["items"], frame["paid"],
                                                 frame["status"])}


def _versions(store: EventStore, where: str = "true", params: list | None = None) -> dict[str, int]:
    """How many events each order stream has (within ``where``): for checking, never timed."""
    return dict(store.sql(f"SELECT stream_id, count(*) FROM events WHERE starts_with(stream_id, 'order-') "
                          f"AND {where} GROUP BY stream_id", params).fetchall())


class Floor:
    """The cost of DuckDB alone: a bare one-row INSERT (autocommit) into a plain table, same file."""

    def __init__(self, path):
        self.con = duckdb.connect(str(path), config={
            "storage_compatibility_version": schema.STORAGE_COMPATIBILITY})  # the store's settings
        self.con.execute("CREATE TABLE IF NOT EXISTS bench_floor AS SELECT * FROM events LIMIT 0")
        self.position = 0

    def insert(self) -> float:
        self.position += 1
        row = (self.position, f"order-{uuid.uuid4()}", 2, "ItemAdded",
               json.dumps({"order_id": str(uuid.uuid4()), "item": "sku-1234"}), "{}", 1,
               str(uuid.uuid4()), None, datetime.now(timezone.utc), "0" * 64, "f" * 64)
        start = time.perf_counter()
        self.con.execute("INSERT INTO bench_floor VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return time.perf_counter() - start

    def close(self) -> None:
        self.con.close()


@PHASES.add("append")
def append(ctx: Context) -> dict:
    """Every command through ``handle``, one commit each; a floor INSERT after each, same file."""
    size = ctx.size
    if size.append_orders is None:
        batch, path = list(workload.orders(size.n_orders)), ctx.path("append.duckdb")
    else:  # more orders on top of the big store
        batch = list(islice(workload.orders(size.n_orders + size.append_orders), size.n_orders, None))
        path = ctx.path("orders.duckdb")
    commands = prepared(batch)
    store, floor = EventStore(path), Floor(path)
    latencies, floors = [], []
    for stream_id, command in progress(commands, len(commands), "eventlab append"):
        start = time.perf_counter()
        handle(store, decider, stream_id, command)
        latencies.append(time.perf_counter() - start)
        floors.append(floor.insert())
    floor.close()
    store.close()
    return {"figures": {
        "events/s": len(latencies) / sum(latencies),
        "p50 ms": percentile(latencies, 50) * 1e3, "p95 ms": percentile(latencies, 95) * 1e3,
        "floor p50 ms": percentile(floors, 50) * 1e3, "floor p95 ms": percentile(floors, 95) * 1e3,
    }, "check": {"events": len(latencies)}}


@PHASES.add("append-batched")
def append_batched(ctx: Context) -> dict:
    """The same commands, ``size.batch`` per unit of work (one commit each): builds orders.duckdb."""
    commands = prepared(workload.orders(ctx.size.n_orders))
    middle = len(commands) // 2  # the moment states_at asks about: just after this many events
    store, batch = EventStore(ctx.path("orders.duckdb")), ctx.size.batch
    starts = range(0, len(commands), batch)
    with Timer() as timer:
        for start in progress(starts, len(starts), "eventlab append-batched", "batch",
                              show=len(commands) >= 2_000):
            with store.unit_of_work():
                for i, (stream_id, command) in enumerate(commands[start:start + batch], start + 1):
                    recorded = handle(store, decider, stream_id, command)
                    if i == middle:
                        ctx.notes["middle"] = (recorded[-1].recorded_at, middle)
    events = store.count()
    store.close()
    return {"figures": {"events/s": len(commands) / timer.seconds, "domain events/s": domain_rate(commands)},
            "check": {"events": events}}


def domain_rate(commands: list[tuple[str, object]]) -> float:
    """Events/s of the order rules alone: decide and fold every command with states in a dict, no store.

    No store can handle commands faster than its domain code runs; this is that ceiling, on this machine.
    """
    states, initial, events = {}, decider.initial_state, 0
    with Timer() as timer:
        for stream_id, command in commands:
            state = states.get(stream_id, initial)
            decided = decider.decide(command, state)
            states[stream_id] = decider.fold(state, decided)
            events += len(decided)
    return events / timer.seconds


@PHASES.add("import")
def import_(ctx: Context) -> dict:
    """The log, with its timestamps, bulk-imported from a DataFrame into a new store; then as many events
    again (the same streams carried on, later) into that store; and DuckDB's bare INSERT of the same rows."""
    with EventStore(ctx.path("orders.duckdb"), read_only=True) as source:
        frame = source.read_all_df()
    later = _carried_on(frame)
    with EventStore(ctx.path("import.duckdb")) as store:
        with Timer() as into_new:
            report = store.import_events(frame)
        with Timer() as into_full:
            again = store.import_events(later)
        assert store.verify().ok, "the imported log does not verify"
        assert again.imported == len(later) and store.count() == 2 * report.imported
        rows = store.arrow("SELECT * FROM events ORDER BY position")
    del frame, later
    figures = {"events/s": report.imported / into_new.seconds,
               "events/s into a full file": again.imported / into_full.seconds,
               **_insert_floors(ctx, rows, report.imported)}
    figures["x floor"] = figures["events/s"] / figures["floor events/s"]
    figures["x floor full"] = figures["events/s into a full file"] / figures["floor events/s full"]
    return {"figures": figures, "check": {"events": report.imported}}


def _carried_on(frame):
    """The log's streams carried on: as many events again, with new ids, a whole time span later."""
    span = frame["recorded_at"].iloc[-1] - frame["recorded_at"].iloc[0] + pd.Timedelta(seconds=1)
    return frame.drop(columns=["position", "version", "event_id"]).assign(
        recorded_at=frame["recorded_at"] + span, occurred_at=frame["occurred_at"] + span)


def _insert_floors(ctx: Context, rows, first: int) -> dict:
    """DuckDB alone: the rows the store wrote, from Arrow, INSERT + COMMIT into a new file, then the rest
    into that file; into a table with the store's schema (its indexes) and into a plain one with none."""
    figures = {}
    for name, table in (("", "events"), (" no index", "plain")):
        path = ctx.path(f"floor-{table}.duckdb")
        con = duckdb.connect(str(path), config={
            "storage_compatibility_version": schema.STORAGE_COMPATIBILITY})  # the store's settings
        con.execute(schema.EVENTS_DDL)
        con.execute("CREATE TABLE plain AS SELECT * FROM events LIMIT 0")
        for key, part in (("", rows.slice(0, first)), (" full", rows.slice(first))):
            con.register("part", part)
            with Timer() as timer:
                con.execute("BEGIN")
                con.execute(f"INSERT INTO {table} SELECT * FROM part")
                con.execute("COMMIT")
            con.unregister("part")
            figures[f"floor{name} events/s{key}"] = len(part) / timer.seconds
        con.close()
        path.unlink()
    return figures


@PHASES.add("replay_all")
def replay_all(ctx: Context) -> dict:
    """A fresh store over the file rebuilds every order: ``states_at`` in Python, then in SQL."""
    expected = workload.expected_states(workload.orders(ctx.size.n_orders))
    figures, check = {}, {}
    for method in ("python", "sql") if decider.state_sql else ("python",):
        with Timer() as timer:
            store = EventStore(ctx.path("orders.duckdb"), read_only=True)
            frame = states_at(store, decider, method=method)
        check = workload.check(_states(frame, _versions(store)), expected, f"replay_all [{method}]")
        events = store.count()
        store.close()
        figures[f"orders/s {method}"] = len(frame) / timer.seconds
        figures[f"events/s {method}"] = events / timer.seconds
    return {"figures": figures, "check": check}


@PHASES.add("time_travel")
def time_travel(ctx: Context) -> dict:
    """Every order at version 3: a ``state_at`` loop, one query + Python replay, and ``state_sql``."""
    batch = list(workload.orders(ctx.size.n_orders))
    expected = workload.expected_states(batch, 3)
    ids = [str(order.order_id) for order in batch[:ctx.size.loop_orders]]
    figures, store = {}, EventStore(ctx.path("orders.duckdb"), read_only=True)

    def as_tuple(state) -> tuple:
        return len(state.items), state.paid, str(state.status), 3

    with Timer() as timer:
        states = {oid: state_at(store, orders.stream_id(oid), decider, version=3)
                  for oid in progress(ids, len(ids), "eventlab state_at loop", unit="order")}
    workload.check({oid: as_tuple(s) for oid, s in states.items()}, {oid: expected[oid] for oid in ids},
                   "state_at loop")
    figures["orders/s state_at loop"] = len(ids) / timer.seconds

    with Timer() as timer:  # the vectorized read, from public API: one query, a replay per stream
        rows = store.sql("SELECT stream_id, type, data::VARCHAR, schema_version FROM events "
                         "WHERE starts_with(stream_id, 'order-') AND version <= 3 "
                         "ORDER BY stream_id, version").fetchall()
        states = {sid: replay([decode(type_, json.loads(data), sv) for _, type_, data, sv in group],
                              decider)
                  for sid, group in groupby(rows, key=lambda row: row[0])}
    check = workload.check({sid.removeprefix("order-"): as_tuple(s) for sid, s in states.items()},
                           expected, "one query + replay")
    figures["orders/s one query + replay"] = len(states) / timer.seconds

    if decider.state_sql:  # the decider's own SQL state, over each stream's first 3 events
        with Timer() as timer:
            frame = store.sql(f"""
                WITH stream_events AS (
                    SELECT * FROM events WHERE starts_with(stream_id, 'order-') AND version <= 3)
                SELECT * FROM ({decider.state_sql})""").df()
        workload.check(_states(frame, _versions(store, "version <= 3")), expected, "state_sql")
        figures["orders/s state_sql"] = len(frame) / timer.seconds
    store.close()
    return {"figures": figures, "check": check}


@PHASES.add("states_at")
def states_at_middle(ctx: Context) -> dict:
    """Every order as of the moment the middle event was recorded (median of 3 per method)."""
    moment, count = ctx.notes["middle"]
    expected = workload.expected_after_events(workload.orders(ctx.size.n_orders), count)
    figures, check = {}, {}
    with EventStore(ctx.path("orders.duckdb"), read_only=True) as store:
        versions = _versions(store, "recorded_at <= ?", [moment])
        for method in ("python", "sql") if decider.state_sql else ("python",):
            times = []
            for _ in range(3):
                with Timer() as timer:
                    frame = states_at(store, decider, as_of=moment, method=method)
                times.append(timer.seconds)
            check = workload.check(_states(frame, versions), expected, f"states_at [{method}]")
            figures[f"s {method}"] = median(times)
        # the same question with no code at all: latest_values, in SQL, on the same log
        times = []
        for _ in range(3):
            with Timer() as timer:
                frame = states_at(store, eventlab.latest_values("order"), as_of=moment, method="sql")
            times.append(timer.seconds)
        counted = dict(zip(frame["stream_id"], frame["events"].astype(int), strict=True))
        if counted != versions:
            raise AssertionError("states_at(latest_values) counted other events per order than the log holds")
        figures["s latest_values sql"] = median(times)
    return {"figures": figures, "check": check}


@PHASES.add("long_stream")
def long_stream(ctx: Context) -> dict:
    """Cold replay of one stream of 1 + M events: open the file, read, replay (median of repeats)."""
    long_id, items = workload.long_stream(ctx.size.n_orders, ctx.size.long_items)
    order_id, path = str(long_id), ctx.path("long.duckdb")
    stream_id = orders.stream_id(order_id)
    with EventStore(path) as store, store.unit_of_work():
        handle(store, decider, stream_id, orders.PlaceOrder(order_id, 1, []))
        for start in range(0, len(items), 1_000):
            store.append(stream_id, [orders.ItemAdded(order_id, item) for item in items[start:start + 1_000]],
                         expected_version=1 + start)
    times = []
    for _ in range(ctx.size.repeats):
        with Timer() as timer, EventStore(path, read_only=True) as store:
            state = state_at(store, stream_id, decider)
        assert len(state.items) == len(items), (len(state.items), len(items))
        times.append(timer.seconds)
    figures, check = {"s": median(times)}, {"items": len(state.items)}
    figures.update(_from_snapshot(ctx, path, stream_id, len(items), check))
    return {"figures": figures, "check": check}


def _from_snapshot(ctx: Context, path, stream_id: str, n_items: int, check: dict) -> dict:
    """A snapshot at the long stream's head (the cost of taking it), then ``state_at`` starting from it:
    with the open of a new store, and on a store already open (medians of ``size.snapshot_reads``)."""
    with EventStore(path) as store, Timer() as take:
        snapshot = snapshots.take(store, stream_id, decider)
    assert snapshot.version == 1 + n_items, (snapshot.version, n_items)
    cold, warm = [], []
    for _ in range(ctx.size.snapshot_reads):
        with Timer() as timer:  # the open and the read; closing it is not timed (nor on the peer's side)
            store = EventStore(path, read_only=True)
            state = state_at(store, stream_id, decider)
        store.close()
        cold.append(timer.seconds)
    assert len(state.items) == n_items, (len(state.items), n_items)
    fetch = []
    with EventStore(path, read_only=True) as store:
        for i in range(ctx.size.snapshot_reads + 3):
            with Timer() as timer:
                state = state_at(store, stream_id, decider)
            if i >= 3:  # the first calls warm the connection up
                warm.append(timer.seconds)
            with Timer() as timer:  # DuckDB's part: the snapshot's row fetched, its JSON text not parsed
                store.rows("SELECT state FROM snapshots WHERE stream_id = ? AND version = ?",
                           [stream_id, snapshot.version])
            if i >= 3:
                fetch.append(timer.seconds)
    assert len(state.items) == n_items, (len(state.items), n_items)
    check.update({"items from snapshot": len(state.items), "snapshot version": snapshot.version})
    return {"snapshot take s": take.seconds, "ms open + from snapshot": median(cold) * 1e3,
            "ms from snapshot": median(warm) * 1e3, "ms snapshot fetch": median(fetch) * 1e3}


def _summary_table(store: EventStore) -> dict[str, tuple]:
    """The order_summary read model as order id -> (item count, paid, status, version)."""
    return {order_id: (items, float(paid), status, version) for order_id, items, paid, status, version
            in store.sql("SELECT order_id, item_count, paid, status, version FROM order_summary").fetchall()}


@PHASES.add("projection_rebuild")
def projection_rebuild(ctx: Context) -> dict:
    """Rebuild the order_summary read model from the whole log with its SQL definition; then with its
    Python handlers, which apply a statement per event, over a copy of the first ``size.handler_orders``
    orders' events (the log holds the orders one after the other)."""
    batch = list(workload.orders(ctx.size.n_orders))
    expected = workload.expected_states(batch)
    figures = {}
    with EventStore(ctx.path("orders.duckdb")) as store:
        with Timer() as timer:
            report = rebuild(store, read_models.order_summary, method="sql")
        events = int(report["events"].iloc[0])
        check = workload.check(_summary_table(store), expected, "order_summary [sql]")
        figures["s sql"] = timer.seconds
        figures["events/s sql"] = events / timer.seconds
        if ctx.size.handler_orders is None or ctx.size.handler_orders >= len(batch):
            python_store, python_expected = store, expected
        else:  # a statement per event is slow: a prefix of the log, copied untimed
            first = batch[:ctx.size.handler_orders]
            python_expected = workload.expected_states(first)
            python_store = EventStore(ctx.path("projection-python.duckdb"))
            python_store.import_events(store.read_all_df(1, sum(len(o.commands()) for o in first)))
        with Timer() as timer:
            report = rebuild(python_store, read_models.order_summary, method="python")
        workload.check(_summary_table(python_store), python_expected, "order_summary [python]")
        figures["events/s python"] = int(report["events"].iloc[0]) / timer.seconds
        if python_store is not store:
            python_store.close()
    return {"figures": figures, "check": check}


@PHASES.add("slider")
def slider(ctx: Context) -> dict:
    """The widgets over the orders-v1 store: a TimeSlider, a StreamSlider and an EventExplorer, each built
    (timed) and moved ``size.moves`` times to random points (seeded; after 3 warm-up moves), and
    ``state_at`` of random streams at random versions: the milliseconds each move takes to show."""
    with EventStore(ctx.path("orders.duckdb"), read_only=True) as store:
        figures, shown, last = _explore(store, ctx.size.moves)
    # the workload drawn again as it is checked, not held: its 220,000 orders are not the widgets' memory
    drawn = workload.orders(ctx.size.n_orders)
    right = workload.summary(workload.expected_after_events(drawn, last))["status"]
    assert shown == right, f"the slider at position {last} shows {shown}, the workload says {right}"
    return {"figures": figures, "check": {"moves": ctx.size.moves, "orders shown": sum(shown.values())}}


@PHASES.add("demo")
def demo(ctx: Context) -> dict:
    """The same widgets and ``state_at`` over the store ``eventlab demo --orders size.demo_orders`` builds
    (long stock streams, removals, cancellations, late events; built untimed, with its snapshots, in a
    process of its own)."""
    path = ctx.path("demo.duckdb")
    apart(build_demo, path, ctx.size.demo_orders)
    with EventStore(path, read_only=True) as store:
        figures, shown, last = _explore(store, ctx.size.moves)
        expected = states_at(store, decider, position=last, method="sql")["status"].value_counts()
        longest = store.rows("SELECT max(version) FROM events")[0][0]
    assert shown == expected.to_dict(), f"the slider at position {last} shows {shown}, states_at {expected}"
    return {"figures": figures, "check": {"moves": ctx.size.moves, "longest stream": longest}}


def build_demo(path, n_orders: int) -> None:
    """The store ``eventlab demo --orders n_orders`` builds, with its snapshots."""
    from eventlab.checkpoints import EVERY
    from eventlab.sample import demo_store

    demo_store(path, n_orders, snapshot_every=EVERY).close()


def _explore(store: EventStore, moves: int) -> tuple[dict, dict, int]:
    """Figures of the TimeSlider, a StreamSlider over the longest stream, an EventExplorer filtered to
    random streams and ``state_at`` of random streams; the orders shown at the TimeSlider's last
    position, and that position."""
    from eventlab.widgets import EventExplorer, StreamSlider, TimeSlider, time_scrubbing  # here: ipywidgets
    #                                   would add ~30 MB to the peak RSS of every phase before this one
    def moved(name: str, timings: list[float], built: float) -> dict:
        return {f"{name} p50 ms": percentile(timings, 50), f"{name} p95 ms": percentile(timings, 95),
                f"{name} max ms": max(timings), f"{name} build s": built}

    rng = random.Random(workload.SEED)
    head = store.head_position
    points = [rng.randint(1, head) for _ in range(moves + 3)]
    with Timer() as build:
        widget = TimeSlider(store, decider, others=[orders.stock_decider])
    timings = time_scrubbing(widget, _changing(points)).tolist()[3:]
    figures = moved("time slider", timings, build.seconds)
    figures |= _played("time slider", widget, rng, moves)
    shown = {status: int(n) for status, n in widget.state_table["orders"].items()}
    last = widget.slider.value
    del widget
    longest, length = store.rows("SELECT stream_id, count(*) AS n FROM events GROUP BY stream_id "
                                 "ORDER BY n DESC, stream_id LIMIT 1")[0]
    owner = orders.stock_decider if longest.startswith("stock-") else decider
    with Timer() as build:
        stream = StreamSlider(store, longest, decider=owner)
    versions = _changing([rng.randint(1, length) for _ in range(moves + 3)])
    figures |= moved("stream slider", time_scrubbing(stream, versions).tolist()[3:], build.seconds)
    figures |= _played("stream slider", stream, rng, moves)
    figures["stream slider events"] = length
    del stream
    with Timer() as build:
        explorer = EventExplorer(store)
    picked = [store.event_at(p) for p in _changing([rng.randint(1, head) for _ in range(moves + 3)])]
    timings = []
    for event in picked:  # type a stream's id, then pick the event among its first rows
        with Timer() as move:
            explorer.stream.value = event.stream_id
            if event.position in [value for _, value in explorer.pick.options]:
                explorer.pick.value = event.position
        timings.append(move.seconds * 1e3)
    figures |= moved("explorer", timings[3:], build.seconds)
    timings = []
    for event in picked:
        owner = orders.stock_decider if event.stream_id.startswith("stock-") else decider
        with Timer() as read:
            state_at(store, event.stream_id, owner, version=event.version)
        timings.append(read.seconds * 1e3)
    timings = timings[3:]
    figures |= {"state_at p50 ms": percentile(timings, 50), "state_at p95 ms": percentile(timings, 95),
                "state_at max ms": max(timings)}
    return figures, shown, last


def _played(name: str, widget, rng: random.Random, steps: int) -> dict:
    """The Play button from a random point: the slider goes ``play.step`` further every ``play.interval``
    ms; each step must be shown within that interval to keep up. The kernel's side of each step, timed."""
    from eventlab.widgets import time_scrubbing

    step, last = widget.play.step, widget.slider.max
    start = rng.randint(0, max(0, last - step * steps))
    timings = time_scrubbing(widget, range(start + step, min(last, start + step * steps) + 1, step)).tolist()
    return {f"{name} play p50 ms": percentile(timings, 50), f"{name} play p95 ms": percentile(timings, 95),
            f"{name} play max ms": max(timings), f"{name} play interval ms": widget.play.interval,
            f"{name} play step": step}


def _changing(points: list[int]) -> list[int]:
    """``points`` without a point equal to the one before it (an unchanged value shows nothing)."""
    return [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]


@PHASES.add("stream_slider")
def stream_slider(ctx: Context) -> dict:
    """A StreamSlider over one stream of ``size.stream_events`` stock events (imported in bulk, untimed):
    built (timed) without snapshots, then with a snapshot every ``checkpoints.EVERY`` versions (taken
    untimed, as ``eventlab demo`` does), moved to ``size.moves`` random versions (the last frame checked
    against a replay) and played."""
    from eventlab.widgets import StreamSlider, time_scrubbing

    count, rng, path = ctx.size.stream_events, random.Random(workload.SEED), ctx.path("stream.duckdb")
    apart(build_stock_stream, path, count)
    # no snapshots: its checkpoints come from one replay of the stream
    with EventStore(path, read_only=True) as store, Timer() as bare:
        StreamSlider(store, "stock-one", decider=orders.stock_decider)
    apart(snapshot_stock_stream, path)  # what `eventlab demo` does for its stock streams
    with EventStore(path, read_only=True) as store:
        with Timer() as build:
            widget = StreamSlider(store, "stock-one", decider=orders.stock_decider)
        versions = _changing([rng.randint(1, count) for _ in range(ctx.size.moves + 3)])
        timings = time_scrubbing(widget, versions).tolist()[3:]
        right = orders.stock_decider.initial_state  # the readable way, 50,000 events at a time: the
        for start in range(1, versions[-1] + 1, 50_000):  # stream is the file's only one (position = version)
            chunk = store.read_all(start, min(start + 49_999, versions[-1]))
            right = replay(chunk, orders.stock_decider, right)
        assert widget.current.after == right, (widget.current.after, right)
        played = _played("stream slider", widget, rng, ctx.size.moves)
    return {"figures": {"p50 ms": percentile(timings, 50), "p95 ms": percentile(timings, 95),
                        "max ms": max(timings), "build s": build.seconds,
                        "build s no snapshots": bare.seconds,
                        **{key.removeprefix("stream slider "): value for key, value in played.items()}},
            "check": {"events": count, "moves": len(timings)}}


def build_stock_stream(path, count: int) -> None:
    """A store holding one stream ``stock-one`` of ``count`` stock events, imported in bulk."""
    kinds = [("StockReceived", 50), ("StockReserved", 2), ("StockReleased", 1)]
    rows = [kinds[0 if i % 40 == 0 else 1 if i % 5 else 2] for i in range(count)]
    start = datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
    frame = pd.DataFrame({
        "stream_id": "stock-one", "type": [kind for kind, _ in rows],
        "data": [json.dumps({"sku": "one", "quantity": n, **({} if kind == "StockReceived" else
                                                              {"order_id": str(i)})})
                 for i, (kind, n) in enumerate(rows)],
        "recorded_at": pd.to_datetime([start + i for i in range(count)], unit="s", utc=True)})
    with EventStore(path) as store:
        store.import_events(frame)


def snapshot_stock_stream(path) -> None:
    """A snapshot every ``checkpoints.EVERY`` versions of the store's stock streams."""
    from eventlab.checkpoints import EVERY

    with EventStore(path) as store:
        snapshots.take_every(store, orders.stock_decider, EVERY)


@PHASES.add("read_one_stream")
def read_one_stream(ctx: Context) -> dict:
    """Add one 10-event order to the big store, then read it back (median latency, fresh store)."""
    order = workload.read_order()
    path = ctx.path("orders.duckdb")
    with EventStore(path) as store:
        for stream_id, command in prepared([order]):
            handle(store, decider, stream_id, command)
    with EventStore(path, read_only=True) as store:
        position = store.rows("SELECT min(position) FROM events WHERE stream_id = ?", [stream_id])[0][0]
        work = {  # each read once per round, in turn, so that all of them share the machine's load alike
            "ms": lambda: store.read(stream_id),
            "floor ms": lambda: store.rows("SELECT * FROM events WHERE position = ?", [position]),
            # DuckDB's own floor for the lookup store.read makes: the stream's rows by its index, as tuples
            "stream floor ms": lambda: store.rows(f"{SELECT_EVENTS} WHERE stream_id = ?", [stream_id]),
            "state_at ms": lambda: state_at(store, stream_id, decider),
        }
        times: dict[str, list[float]] = {name: [] for name in work}
        for i in range(ctx.size.reads + 3):
            for name, read in work.items():
                with Timer() as timer:
                    read()
                if i >= 3:  # the first reads warm the connection up
                    times[name].append(timer.seconds)
        events, state = store.read(stream_id), state_at(store, stream_id, decider)
    assert len(events) == 10 and len(state.items) == len(order.items) + len(order.extra), state
    figures = {name: median(seconds) * 1e3 for name, seconds in times.items()}
    figures |= {"x stream floor": figures["ms"] / figures["stream floor ms"],
                "state_at x stream floor": figures["state_at ms"] / figures["stream floor ms"]}
    return {"figures": figures, "check": {"events": len(events)}}
