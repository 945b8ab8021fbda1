"""Widgets driven headless: set what a person would set, check what they would see.

The scrubbing latency on a big log is measured, not asserted (tests never
assert wall-clock times). For the figure on a million events::

    EVENTLAB_SCRUB_EVENTS=1000000 .venv/bin/pytest tests/test_widgets.py -k latency -s
"""

from __future__ import annotations

import itertools
import json
import os
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from eventlab import (
    Decider,
    EventStore,
    UsageError,
    checkpoints,
    event_type,
    latest_values,
    replay,
    sample,
    snapshots,
    state_at,
    states_at,
)
from eventlab.application.timetravel import state_row
from eventlab.core.decider import Summary
from eventlab.examples import orders
from eventlab.widgets import (
    STATIC_NOTE,
    EventExplorer,
    StreamSlider,
    TimeSlider,
    state_diff,
    time_scrubbing,
)


@pytest.fixture(scope="module")
def demo():
    """Orders and stock: the slider shows order counts, and the changes of both kinds of stream."""
    store = sample.demo_store(n_orders=150)
    yield store
    store.close()


def expected_counts(store: EventStore, **point) -> dict[str, int]:
    return states_at(store, orders.decider, **point)["status"].value_counts().to_dict()


def shown_counts(slider: TimeSlider) -> dict[str, int]:
    return slider.state_table["orders"].to_dict()


def test_the_time_slider_shows_the_system_as_of_each_position(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    assert slider.slider.max == slider.play.max == demo.head_position
    for position in (0, 1, 7, demo.head_position // 3, demo.head_position - 1, demo.head_position):
        slider.slider.value = position
        frame = slider.current
        assert shown_counts(slider) == expected_counts(demo, position=position)
        states = states_at(demo, orders.decider, position=position)
        assert slider.total == pytest.approx(states["paid"].sum())
        assert frame.position == position
        if position == 0:
            assert frame.event is None and slider.recent.empty
            continue
        event = demo.read_all(position, position)[0]
        assert frame.event == event  # the event just applied, highlighted
        assert f"position {position:,}</b>" in slider.clock.value
        # what it changed: the stream's state before and after it
        decider = orders.decider if event.stream_id.startswith("order-") else orders.stock_decider
        before = state_at(demo, event.stream_id, decider, version=event.version - 1)
        after = state_at(demo, event.stream_id, decider, version=event.version)
        assert (frame.before, frame.after) == (before, after)
        assert frame.diff.equals(state_diff(before, after))
        # the orders changed last, newest first, as they stood then
        recent = slider.recent.set_index("stream_id")
        assert list(recent["position"]) == sorted(recent["position"], reverse=True)
        now = states.set_index("stream_id").loc[recent.index]
        assert list(recent["status"]) == list(now["status"])


def test_the_counts_by_status_are_those_of_states_at_at_random_positions(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    for position in random.Random(4).sample(range(demo.head_position + 1), 12):
        slider.slider.value = position
        replayed = states_at(demo, orders.decider, position=position)["status"].value_counts()
        assert slider.state_table["orders"].sort_index().to_dict() == replayed.sort_index().to_dict()
        assert slider.state_table.index.name == "status"


def test_the_headings_read_as_the_shop_and_the_stock_events_show_their_change(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    position = int(demo.sql("SELECT min(position) FROM events WHERE type = 'StockReserved'").fetchall()[0][0])
    slider.slider.value = position
    n = int(slider.state_table["orders"].sum())
    assert f"Orders by status ({n:,} orders)</h4>" in slider.body.value
    assert f"Revenue known then: <b>{slider.total:,.2f}</b>" in slider.body.value
    assert "Orders changed last</h4>" in slider.body.value
    assert slider.current.diff.set_index("field").loc["reserved", "after"] > 0
    alone = TimeSlider(demo, orders.decider)  # no decider for the stock streams: their change is not shown
    alone.slider.value = position
    assert alone.current.after is None and "No decider here owns this stream" in alone.body.value
    assert alone.state_table.equals(slider.state_table)
    with pytest.raises(UsageError, match="needs the Decider"):
        TimeSlider(demo, "orders")  # type: ignore[arg-type]


def test_an_order_event_is_on_top_of_the_recent_orders_with_its_change_highlighted(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    position = int(demo.sql("SELECT min(position) FROM events WHERE type = 'OrderPaid'").fetchall()[0][0])
    slider.slider.value = position
    event = slider.current.event
    assert slider.recent.iloc[0][["stream_id", "position", "last event", "status"]].tolist() == [
        event.stream_id, position, "OrderPaid", "Paid"]
    assert slider.current.diff.set_index("field").loc["status"].tolist() == ["Placed", "Paid"]
    assert "background:#fff3b0" in slider.body.value and event.stream_id in slider.body.value


def test_time_mode_shows_everything_recorded_by_each_moment(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    slider.mode.value = "time"
    moments = slider.moments
    assert slider.slider.max == len(moments) - 1 and moments == sorted(moments)
    recorded = demo.read_all_df()["recorded_at"]
    for index in (0, len(moments) // 2, len(moments) - 1):
        slider.slider.value = index
        moment = moments[index]
        assert slider.current.as_of == moment
        assert slider.current.position == (recorded <= moment).sum()
        assert shown_counts(slider) == expected_counts(demo, as_of=moment)
        assert "as of <b>" in slider.clock.value


def test_switching_between_position_and_time_keeps_the_point(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    slider.slider.value = 200
    recorded_at = slider.current.event.recorded_at
    slider.mode.value = "time"
    assert slider.current.as_of >= recorded_at and slider.current.position >= 200
    assert slider.current.as_of - recorded_at <= slider.moments[1] - slider.moments[0]
    shown = slider.current.position
    slider.mode.value = "position"
    assert slider.slider.value == slider.current.position == shown


def test_a_static_render_gets_a_still_and_a_note(demo):
    slider = TimeSlider(demo, orders.decider, others=[orders.stock_decider])
    slider.slider.value = 100
    bundle = slider._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert STATIC_NOTE in bundle["text/html"] and "Orders by status" in bundle["text/html"]
    assert bundle["text/plain"].startswith("TimeSlider: position 100 of ")
    explorer = EventExplorer(demo, limit=5)
    assert STATIC_NOTE in explorer._repr_mimebundle_()["text/html"]


def test_the_stream_slider_replays_one_stream_version_by_version(demo):
    slider = StreamSlider(demo, "order-000001", decider=orders.decider)
    events = demo.read("order-000001")
    assert slider.slider.max == len(events) and slider.picker.value == "order-000001"
    for version in range(len(events) + 1):
        slider.slider.value = version
        state = state_at(demo, "order-000001", orders.decider, version=version)
        assert slider.current.after == state
        assert dict(zip(slider.state_table["field"], slider.state_table["value"])) == {
            "order_id": state.order_id, "user_id": state.user_id, "items": state.items, "paid": state.paid,
            "status": state.status.value}
        assert slider.current.event == (events[version - 1] if version else None)
    slider.slider.value = 1
    assert slider.current.diff.set_index("field").loc["status"].tolist() == ["New", "Placed"]


def test_picking_another_stream_loads_it_and_time_mode_walks_its_moments(demo):
    slider = StreamSlider(demo, decider=orders.stock_decider)
    assert all(option.startswith("stock-") for option in slider.picker.options)
    slider.slider.value = 3
    other = slider.picker.options[1]
    slider.picker.value = other
    events = demo.read(other)
    assert slider.current.step == 0 and slider.slider.max == len(events)
    slider.mode.value = "time"
    slider.slider.value = slider.slider.max
    assert slider.current.step == len(events)
    assert slider.current.after == state_at(demo, other, orders.stock_decider)


def test_the_explorer_filters_by_stream_type_and_days_and_shows_the_json(demo):
    explorer = EventExplorer(demo, limit=20)
    assert explorer.total == demo.count() and len(explorer.events) == 20
    explorer.types.value = ("OrderPaid", "OrderShipped")
    explorer.stream.value = "order-0000"
    expected = demo.sql("SELECT count(*) FROM events WHERE type IN ('OrderPaid', 'OrderShipped') "
                        "AND stream_id LIKE 'order-0000%'").fetchall()[0][0]
    assert explorer.total == expected > 0
    assert set(explorer.events["type"]) <= {"OrderPaid", "OrderShipped"}
    first, _ = explorer.days.options[2]
    explorer.days.index = (2, 2)
    assert set(explorer.events["recorded_at"].dt.strftime("%Y-%m-%d")) <= {first}
    explorer.days.index = (0, len(explorer.days.options) - 1)
    explorer.pick.value = int(explorer.events["position"].iloc[-1])
    shown = json.loads(explorer.json)
    assert explorer.selected.position == shown["position"] == explorer.pick.value
    assert shown["data"] == explorer.selected.data and shown["type"] in {"OrderPaid", "OrderShipped"}
    explorer.stream.value = next(s for s in demo.streams() if s.startswith("order-"))  # ids of one width
    explorer.types.value = ("OrderPlaced",)
    assert explorer.total == 1
    assert explorer._repr_mimebundle_()["text/plain"] == "EventExplorer: 1 event matches"
    assert "<b>1 event</b>" in explorer.to_html()
    explorer.stream.value = "no-such-stream"
    assert explorer.total == 0 and explorer.selected is None and explorer.json == ""
    assert explorer._repr_mimebundle_()["text/plain"] == "EventExplorer: 0 events match"


# --- another domain: the slider knows only what its decider says ------------------------------------


@event_type("ParcelBooked")
@dataclass(frozen=True)
class ParcelBooked:
    parcel_id: str


@event_type("ParcelMoved")
@dataclass(frozen=True)
class ParcelMoved:
    parcel_id: str
    to: str


@dataclass(frozen=True)
class Parcel:
    parcel_id: str | None = None
    stage: str = "unknown"
    hops: int = 0


def evolve_parcel(state: Parcel, event: object) -> Parcel:
    match event:
        case ParcelBooked(parcel_id=parcel_id):
            return Parcel(parcel_id, "booked")
        case ParcelMoved(to=to):
            return replace(state, stage=to, hops=state.hops + 1)
    return state


parcels = Decider(Parcel(), evolve_parcel, lambda command, state: [], name="parcels", category="parcel",
                  summary=Summary(by="stage"))
"""Parcels counted by stage: no levels, no set_by, no total."""


@pytest.fixture(scope="module")
def depot():
    store = EventStore()
    rng = random.Random(5)
    moved = {}
    for step in range(120):
        parcel = rng.randrange(25)
        if parcel not in moved:
            store.append(f"parcel-{parcel}", [ParcelBooked(str(parcel))])
            moved[parcel] = 0
        else:
            store.append(f"parcel-{parcel}", [ParcelMoved(str(parcel), rng.choice(["hub", "van", "door"]))])
        if step % 10 == 0:
            store.append("note-1", [ParcelBooked("not a parcel stream")])
    yield store
    store.close()


def test_the_time_slider_sums_up_another_domain(depot):
    slider = TimeSlider(depot, parcels)
    assert slider.slider.max == depot.head_position
    for position in (0, 1, 17, depot.head_position // 2, depot.head_position):
        slider.slider.value = position
        expected = states_at(depot, parcels, position=position)["stage"].value_counts().to_dict()
        assert slider.state_table["parcels"].to_dict() == expected
        assert slider.total is None and "known then" not in slider.body.value
    assert list(slider.state_table.index) == sorted(slider.state_table.index)  # no levels: by name
    n = int(slider.state_table["parcels"].sum())
    assert f"Parcels by stage ({n:,} parcels)</h4>" in slider.body.value
    assert "Parcels changed last</h4>" in slider.body.value
    assert list(slider.recent.columns) == ["stream_id", "version", "last event", "position", "stage"]
    event = slider.current.event
    assert slider.current.after == state_at(depot, event.stream_id, parcels)


def test_a_decider_without_a_summary_needs_the_field_to_count_by(depot):
    plain = replace(parcels, summary=None)
    with pytest.raises(UsageError, match="by='<state field>'"):
        TimeSlider(depot, plain)
    slider = TimeSlider(depot, plain, by="stage")
    slider.slider.value = depot.head_position
    stages = states_at(depot, plain)["stage"].value_counts().to_dict()
    assert slider.state_table["parcels"].to_dict() == stages
    by_hops = TimeSlider(depot, parcels, by="hops")
    by_hops.slider.value = depot.head_position
    hops = states_at(depot, parcels)["hops"].value_counts().to_dict()
    assert by_hops.state_table["parcels"].to_dict() == hops


# --- a big log, for the scrubbing latency ----------------------------------------------------------

SKUS = [f"sku-{i:02d}" for i in range(20)]


def synthetic_orders(n_events: int, seed: int = 1) -> pd.DataFrame:
    """``n_events`` valid order events over 90 days, in import format: every order follows the rules."""
    rng = random.Random(seed)
    times, rows = [], []
    for n in itertools.count():
        if len(rows) >= n_events:
            break
        order_id = f"{n:07d}"
        stream, first = f"order-{order_id}", {"order_id": order_id}
        items = rng.sample(SKUS, rng.randint(1, 3))
        events = [("OrderPlaced", {**first, "user_id": rng.randint(1, 5000), "items": items})]
        added = rng.choice((0, 0, 1, 2))
        events += [("ItemAdded", {**first, "item": rng.choice(SKUS)}) for _ in range(added)]
        if rng.random() < 0.2:
            events.append(("ItemRemoved", {**first, "item": items[0]}))
        outcome = rng.random()
        if outcome < 0.85:
            events.append(("OrderPaid", {**first, "amount": rng.randint(5, 200), "currency": "EUR"}))
            events.append(("OrderShipped", first) if outcome < 0.8 else
                          ("OrderCancelled", {**first, "reason": "changed mind"}))
        elif outcome < 0.93:
            events.append(("OrderCancelled", {**first, "reason": "abandoned"}))
        t = rng.uniform(0, 90 * 86400)
        for version, (kind, data) in enumerate(events, start=1):
            times.append(t)
            rows.append((stream, version, kind, json.dumps(data), 2 if kind == "OrderPaid" else 1))
            t += rng.uniform(60, 2 * 86400)
    order = np.argsort(np.array(times), kind="stable")[:n_events]
    frame = pd.DataFrame([rows[i] for i in order], columns=["stream_id", "version", "type", "data",
                                                            "schema_version"])
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    frame["recorded_at"] = pd.to_datetime(np.sort(np.array(times))[:n_events].round(), unit="s", utc=True) \
        + (start - datetime(1970, 1, 1, tzinfo=timezone.utc))
    return frame


def test_scrubbing_latency_on_a_big_log():
    """Random jumps and a Play run; prints p50/p95 per move. Size: EVENTLAB_SCRUB_EVENTS (default 50,000)."""
    n = int(os.environ.get("EVENTLAB_SCRUB_EVENTS", "50000"))
    with EventStore() as store:
        store.import_events(synthetic_orders(n))
        slider = TimeSlider(store, orders.decider)
        rng = np.random.default_rng(0)
        jumps = time_scrubbing(slider, rng.integers(1, n + 1, 200))
        play = time_scrubbing(slider, range(n // 2, n // 2 + 100))
        assert shown_counts(slider) == expected_counts(store, position=n // 2 + 99)
        slider.mode.value = "time"
        dates = time_scrubbing(slider, rng.integers(0, slider.slider.max + 1, 100))
    for label, timings in (("random jumps", jumps), ("play", play), ("time mode", dates)):
        print(f"\n{n:,} events, {label}: p50 {timings.median():.1f} ms, p95 {timings.quantile(0.95):.1f} ms")
    assert len(jumps) == 200


def test_time_scrubbing_times_each_move():
    store = EventStore()
    store.import_events(synthetic_orders(40))
    slider = TimeSlider(store, orders.decider)
    timings = time_scrubbing(slider, [5, 10, 40])
    assert len(timings) == 3 and (timings > 0).all() and slider.current.position == 40
    assert state_diff(orders.OrderState(), orders.OrderState()).empty
    assert timedelta(0) <= slider.moments[-1] - slider.moments[0]


@pytest.fixture(scope="module")
def long_streams():
    """The demo shop at 2,500 orders: stock streams of up to ~1,100 events, longer than the checkpoints'
    spacing, so frames come from checkpoints plus a few events; a copy also has snapshots every 200."""
    store = sample.demo_store(n_orders=2_500)
    longest = store.rows("SELECT max(version) FROM events WHERE stream_id LIKE 'stock-%'")[0][0]
    assert longest > checkpoints.EVERY  # else no checkpoint would be used
    yield store
    store.close()


def replayed_frame(store: EventStore, deciders: dict[str, Decider], position: int) -> tuple:
    """What the frame at ``position`` must show, by a full replay of its stream from the first event."""
    [event] = store.read_all(position, position)
    decider = next(d for prefix, d in deciders.items() if event.stream_id.startswith(prefix))
    stream = store.read(event.stream_id)[:event.version]
    before, after = replay(stream[:-1], decider), replay(stream, decider)
    return event, before, after, state_diff(before, after)


@pytest.mark.parametrize("with_snapshots", [False, True])
def test_the_time_slider_frames_equal_a_full_replay_at_random_points_of_long_streams(long_streams,
                                                                                    with_snapshots):
    if with_snapshots:
        assert snapshots.take_every(long_streams, orders.stock_decider, 200) > 0
    try:
        slider = TimeSlider(long_streams, orders.decider, others=[orders.stock_decider])
        rng = random.Random(21)
        stock = [p for (p,) in long_streams.rows("SELECT position FROM events WHERE stream_id LIKE 'stock-%' "
                                                 "AND version > ?", [checkpoints.EVERY])]
        points = rng.sample(range(1, long_streams.head_position + 1), 15) + rng.sample(stock, 15)
        for position in points:
            slider.slider.value = position
            frame = slider.current
            event, before, after, diff = replayed_frame(long_streams, slider.deciders, position)
            assert shown_counts(slider) == expected_counts(long_streams, position=position)
            assert (frame.event, frame.before, frame.after) == (event, before, after), position
            pd.testing.assert_frame_equal(frame.diff, diff)
            assert frame.event.stream_id in slider.body.value and event.type in slider.body.value
    finally:
        snapshots.delete_all(long_streams)


@pytest.mark.parametrize("decider", [orders.stock_decider, latest_values("stock")], ids=["stock", "raw"])
def test_the_stream_slider_frames_equal_a_full_replay_at_random_versions_of_a_long_stream(long_streams,
                                                                                        decider):
    stream_id = long_streams.rows("SELECT stream_id FROM events GROUP BY stream_id ORDER BY count(*) DESC "
                                  "LIMIT 1")[0][0]
    slider = StreamSlider(long_streams, stream_id, decider=decider)
    events = long_streams.read(stream_id)
    assert slider.slider.max == len(events) > checkpoints.EVERY
    for version in random.Random(5).sample(range(1, len(events) + 1), 20):
        slider.slider.value = version
        before, after = replay(events[:version - 1], decider), replay(events[:version], decider)
        frame = slider.current
        assert (frame.event, frame.before, frame.after) == (events[version - 1], before, after), version
        pd.testing.assert_frame_equal(frame.diff, state_diff(before, after))
        shown = dict(zip(slider.state_table["field"], slider.state_table["value"], strict=True))
        assert shown == state_row(after)


def test_checkpoints_give_the_state_at_every_version_from_snapshots_or_memory(long_streams):
    stream_id = "stock-espresso-beans"
    events = long_streams.read(stream_id)
    from_memory = checkpoints.StreamCheckpoints(long_streams, stream_id, orders.stock_decider, every=100)
    snapshots.take_every(long_streams, orders.stock_decider, 100)
    try:
        from_snapshots = checkpoints.StreamCheckpoints(long_streams, stream_id, orders.stock_decider,
                                                       every=100)
        assert from_snapshots.versions == from_memory.versions == list(range(0, len(events) + 1, 100))
        for version in [0, 1, 99, 100, 101, len(events) - 1, len(events), *random.Random(8).sample(
                range(len(events)), 20)]:
            right = replay(events[:version], orders.stock_decider)
            assert from_memory.state_at(version) == from_snapshots.state_at(version) == right, version
            assert state_at(long_streams, stream_id, orders.stock_decider, version=version) == right
    finally:
        snapshots.delete_all(long_streams)


def scanned(store: EventStore, prefix: str, types: tuple, first: datetime, last: datetime, limit: int
            ) -> tuple[int, list[int]]:
    """What the explorer must show, by one plain scan of the log: how many events match, and the first."""
    rows = store.rows("""
        SELECT position FROM events WHERE starts_with(stream_id, ?) AND (len(?::VARCHAR[]) = 0 OR type IN
            (SELECT unnest(?::VARCHAR[]))) AND recorded_at >= ? AND recorded_at < ? + INTERVAL 1 DAY
        ORDER BY position""", [prefix, list(types), list(types), first, last])
    return len(rows), [position for (position,) in rows[:limit]]


@pytest.mark.parametrize("short", [EventExplorer.short, 0], ids=["by-index", "by-scan"])
def test_the_explorer_finds_what_a_scan_of_the_log_finds(long_streams, short):
    explorer = EventExplorer(long_streams, limit=15)
    explorer.short = short  # 0: even one short stream is found by a scan of the log
    rng = random.Random(6)
    ids = long_streams.streams()
    prefixes = ["", "order-", "stock-", "stock-espresso-beans", "order-0001", "order-00012", "no-such-",
                *rng.sample(ids, 4)]
    last = len(explorer.days.options) - 1
    for prefix, types, days in itertools.product(
            prefixes, [(), ("OrderPaid",), ("StockReserved", "OrderPlaced")], [(0, last), (3, 9)]):
        with explorer.hold_trait_notifications():
            explorer.types.value, explorer.days.index = types, days
        explorer.stream.value = prefix
        first, end = explorer.days.value
        total, positions = scanned(long_streams, prefix, types, first, end, explorer.limit)
        shown = (explorer.total, explorer.events["position"].tolist())
        assert shown == (total, positions), (prefix, types, days)
        assert explorer.selected == (long_streams.event_at(positions[0]) if positions else None)


def test_the_explorer_counts_events_appended_after_it_was_built():
    now = [datetime(2024, 1, 1, 9, tzinfo=timezone.utc)]
    with EventStore(clock=lambda: now[0]) as store:
        for n in range(12):
            now[0] += timedelta(hours=5)
            store.append(f"order-{n:03d}", [orders.OrderPlaced(f"{n:03d}", 1, ["a"])])
        explorer = EventExplorer(store)
        explorer.stream.value = "order-00"
        assert explorer.total == 10
        store.append("order-001", [orders.OrderPaid("001", 5)])  # the same moment: within the days shown
        store.append("order-0011", [orders.OrderPlaced("0011", 1, ["b"])])
        explorer.stream.value = ""
        explorer.stream.value = "order-00"
        assert explorer.total == 12
        explorer.stream.value = "order-001"
        assert explorer.events["position"].tolist() == [2, 13, 14]
        now[0] += timedelta(days=3)  # after the last day the explorer offers: filtered out, and not counted
        store.append("order-002", [orders.OrderPaid("002", 5)])
        explorer.stream.value = "order-0"
        assert explorer.total == 14 == store.count() - 1
