"""Time travel: one stream at a version, position or moment; the whole system at a point."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import NewEvent, UsageError, handle, replay, sample, snapshots, timetravel
from eventlab.examples import orders
from eventlab.timetravel import history, state_at, states_at

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


def minute_clock(start=T0):
    moments = iter(start + timedelta(minutes=i) for i in range(10**6))
    return lambda: next(moments)


@pytest.fixture
def shop():
    """The seed order 123 (placed, item added, paid, shipped) and order 7 placed in between."""
    store = eventlab.EventStore(clock=minute_clock())
    store.append("order-123", [orders.OrderPlaced(order_id="123", user_id=1, items=["a", "b"])], 0)
    store.append("order-7", [orders.OrderPlaced(order_id="7", user_id=2, items=["z"])], 0)
    store.append("order-123", [orders.ItemAdded(order_id="123", item="c"),
                               orders.OrderPaid(order_id="123", amount=100)], 1)
    store.append("order-123", [orders.OrderShipped(order_id="123")], 3)
    yield store
    store.close()


def test_the_seed_example_at_each_version(shop):
    at = [state_at(shop, "order-123", orders.decider, version=v) for v in range(5)]
    assert at[0] == orders.decider.initial_state
    assert (at[1].items, at[1].status) == (["a", "b"], "Placed")
    assert (at[3].items, at[3].paid, at[3].status) == (["a", "b", "c"], 100, "Paid")
    assert at[4].status == "Shipped"
    assert state_at(shop, "order-123", orders.decider) == at[4]
    assert state_at(shop, "order-123", orders.decider, version=99) == at[4]


def test_state_at_a_global_position_and_a_moment(shop):
    assert state_at(shop, "order-123", orders.decider, position=2).items == ["a", "b"]
    assert state_at(shop, "order-123", orders.decider, position=3).items == ["a", "b", "c"]
    assert state_at(shop, "order-7", orders.decider, position=1) == orders.decider.initial_state
    # the clock ticks a minute per append; the paid event was recorded at T0 + 2 min, exactly
    assert state_at(shop, "order-123", orders.decider, as_of=T0 + timedelta(minutes=2)).status == "Paid"
    assert state_at(shop, "order-123", orders.decider,
                    as_of=T0 + timedelta(minutes=1, seconds=59)).status == "Placed"
    assert state_at(shop, "order-123", orders.decider,
                    as_of=T0 - timedelta(days=1)) == orders.decider.initial_state


@pytest.mark.parametrize("kwargs, message", [
    ({"as_of": datetime(2024, 6, 3)}, "no time zone"),
    ({"version": 1, "position": 2}, "not version and position"),
    ({"version": -1}, "version must be"),
    ({"position": "3"}, "position must be"),
    ({"as_of": T0, "time": "business"}, "time must be"),
])
def test_unclear_points_in_time_are_refused(shop, kwargs, message):
    with pytest.raises(eventlab.EventLabError, match=message):
        state_at(shop, "order-123", orders.decider, **kwargs)


def test_history_is_the_audit_trail_with_the_state_after_each_event(shop):
    trail = history(shop, "order-123", orders.decider)
    assert list(trail["type"]) == ["OrderPlaced", "ItemAdded", "OrderPaid", "OrderShipped"]
    assert list(trail["position"]) == [1, 3, 4, 5]
    assert list(trail["status"]) == ["Placed", "Placed", "Paid", "Shipped"]
    assert trail["items"].iloc[1] == ["a", "b", "c"]
    assert list(trail.columns[:5]) == ["position", "version", "type", "recorded_at", "occurred_at"]


@pytest.mark.parametrize("method", ["python", "sql"])
def test_states_at_is_the_whole_shop_at_a_point(shop, method):
    now = states_at(shop, orders.decider, method=method)
    assert list(now["stream_id"]) == ["order-123", "order-7"]
    assert list(now["status"]) == ["Shipped", "Placed"]
    assert now["items"].iloc[0] == ["a", "b", "c"]
    before = states_at(shop, orders.decider, position=1, method=method)
    assert list(before["stream_id"]) == ["order-123"]
    by_time = states_at(shop, orders.decider, as_of=T0 + timedelta(minutes=2), method=method)
    assert list(by_time["status"]) == ["Paid", "Placed"]


def test_states_at_only_covers_the_deciders_own_streams(shop):
    shop.append("stock-a", [NewEvent("StockReceived", {"sku": "a", "quantity": 3})])
    assert "stock-a" not in set(states_at(shop, orders.decider)["stream_id"])


def test_a_late_event_shows_the_difference_between_recorded_and_occurred_time():
    store = eventlab.EventStore(clock=minute_clock())
    store.append("order-1", [orders.OrderPlaced(order_id="1", user_id=1, items=["a"])])
    # the payment happened at T0 + 5 min, but the bank told us only at T0 + 60 min
    late = NewEvent("OrderPaid", {"order_id": "1", "amount": 10}, occurred_at=T0 + timedelta(minutes=5))
    store.clock = lambda: T0 + timedelta(minutes=60)
    store.append("order-1", [late])
    at_ten = T0 + timedelta(minutes=10)
    assert state_at(store, "order-1", orders.decider, as_of=at_ten).status == "Placed"  # what we knew
    assert state_at(store, "order-1", orders.decider, as_of=at_ten, time="occurred").status == "Paid"
    assert states_at(store, orders.decider, as_of=at_ten, time="occurred")["status"].tolist() == ["Paid"]


# -- laws, over random command histories --------------------------------------------------

def order_messages(place, add, remove, pay, ship, cancel):
    """Any one of the six order commands, or of the six order events: each pair shares its fields."""
    order_ids = st.sampled_from(["1", "2", "3"])
    skus = st.sampled_from("abc")
    return st.one_of(
        st.builds(place, order_id=order_ids, user_id=st.integers(1, 5), items=st.lists(skus, max_size=3)),
        st.builds(add, order_id=order_ids, item=skus),
        st.builds(remove, order_id=order_ids, item=skus),
        st.builds(pay, order_id=order_ids, amount=st.sampled_from([5, 10.5, 100])),
        st.builds(ship, order_id=order_ids),
        st.builds(cancel, order_id=order_ids, reason=st.just("why not")),
    )


commands = order_messages(orders.PlaceOrder, orders.AddItem, orders.RemoveItem, orders.PayOrder,
                          orders.ShipOrder, orders.CancelOrder)


def run(commands_list) -> eventlab.EventStore:
    store = eventlab.EventStore(clock=minute_clock())
    for command in commands_list:
        with contextlib.suppress(eventlab.CommandRejected):
            handle(store, orders.decider, orders.stream_id(command.order_id), command)
    return store


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=25))
def test_time_travel_to_a_version_is_replay_of_that_prefix(history_):
    store = run(history_)
    for stream_id in store.streams():
        events = store.read(stream_id)
        for v in range(len(events) + 1):
            assert state_at(store, stream_id, orders.decider, version=v) == replay(events[:v], orders.decider)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=25), st.data())
def test_states_at_equals_the_per_stream_folds_in_python_and_in_sql(history_, data):
    store = run(history_)
    position = data.draw(st.integers(0, store.head_position))
    python = states_at(store, orders.decider, position=position, method="python")
    sql = states_at(store, orders.decider, position=position, method="sql")
    pd.testing.assert_frame_equal(python, sql, check_dtype=False)
    for row in python.itertuples():
        state = state_at(store, row.stream_id, orders.decider, position=position)
        assert (row.items, row.paid, row.status) == (state.items, state.paid, state.status)
    streams_then = {r.stream_id for r in store.read_all(to_position=position)}
    assert set(python["stream_id"]) == streams_then


# Any order events at all, in any order: imported or appended logs need not obey the rules, and
# the SQL state must still be exactly the Python fold (removing an item that is not there, placing
# an order twice or after other events, paying before placing, items added to no order).
any_order_event = order_messages(orders.OrderPlaced, orders.ItemAdded, orders.ItemRemoved, orders.OrderPaid,
                                 orders.OrderShipped, orders.OrderCancelled)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_order_event, max_size=30), st.data())
def test_states_at_in_sql_is_the_fold_even_for_events_that_break_the_rules(events, data):
    store = eventlab.EventStore(clock=minute_clock())
    for event in events:
        store.append(orders.stream_id(event.order_id), [event])
    position = data.draw(st.integers(0, store.head_position))
    python = states_at(store, orders.decider, position=position, method="python")
    sql = states_at(store, orders.decider, position=position, method="sql")
    pd.testing.assert_frame_equal(python, sql, check_dtype=False)


def test_the_sql_state_follows_the_fold_where_the_rules_were_broken():
    store = eventlab.EventStore(clock=minute_clock())
    store.append("order-1", [orders.ItemRemoved("1", "a"), orders.OrderPlaced("1", 1, ["a"]),
                             orders.ItemRemoved("1", "b"), orders.ItemAdded("1", "a"),
                             orders.ItemRemoved("1", "a"), orders.ItemRemoved("1", "a"),
                             orders.ItemRemoved("1", "a"), orders.ItemAdded("1", "a")])
    store.append("order-2", [orders.OrderPlaced("2", 1, ["a"]), orders.ItemAdded("2", "b"),
                             orders.OrderPaid("2", 10), orders.OrderPlaced("2", 2, ["c"]),
                             orders.ItemAdded("2", "d")])
    store.append("order-3", [orders.ItemAdded("3", "x"), orders.OrderPaid("3", 5)])
    sql = states_at(store, orders.decider, method="sql").set_index("stream_id")
    assert sql.loc["order-1", "items"] == ["a"]  # the removals of a missing "a" and "b" did nothing
    assert (sql.loc["order-2", "user_id"], sql.loc["order-2", "items"], sql.loc["order-2", "paid"]) == (
        2, ["c", "d"], 0.0)  # placing again starts afresh
    assert pd.isna(sql.loc["order-3", "order_id"])  # items added to an order never placed
    assert (sql.loc["order-3", "items"], sql.loc["order-3", "status"]) == (["x"], "Paid")
    pd.testing.assert_frame_equal(states_at(store, orders.decider, method="python").set_index("stream_id"),
                                  sql, check_dtype=False)


@eventlab.event_type("Tallied")
@dataclass(frozen=True)
class Tallied:
    """An event whose ``__post_init__`` derives a field: replay must run it, not skip it."""

    amounts: list
    total: int = 0

    def __post_init__(self):
        object.__setattr__(self, "total", sum(self.amounts))


@eventlab.event_type("Ticked")
@dataclass(frozen=True, slots=True)
class Ticked:
    """A slotted event: it has no ``__dict__`` to restore."""

    n: int


tally = eventlab.Decider(initial_state=(), evolve=lambda state, event: (*state, event),
                         decide=lambda command, state: [])


def test_replay_builds_events_the_way_their_class_wants():
    store = eventlab.EventStore()
    store.append("tally-1", [NewEvent("Tallied", {"amounts": [1, 2], "total": 99}), Ticked(1), Ticked(2),
                             Tallied([5])], 0)
    replayed = state_at(store, "tally-1", tally)
    assert replayed == (Tallied([1, 2]), Ticked(1), Ticked(2), Tallied([5]))
    assert replayed[0].total == 3  # __post_init__ ran on the way back in
    assert [event.n for event in replayed[1:3]] == [1, 2]


def test_stored_data_that_does_not_fit_its_class_is_reported():
    store = eventlab.EventStore()
    store.append("order-9", [orders.OrderPlaced("9", 1, []), NewEvent("ItemAdded", {"order_id": "9"})], 0)
    store.append("order-1", [orders.OrderPlaced("1", 1, []), orders.ItemAdded("1", "a")], 0)
    with pytest.raises(eventlab.UnknownEventTypeError, match="ItemAdded.*order-9.*does not fit"):
        state_at(store, "order-9", orders.decider)
    with pytest.raises(eventlab.UnknownEventTypeError, match="ItemAdded.*order-9.*does not fit"):
        states_at(store, orders.decider, method="python")  # the one stream of the two that is wrong


def test_states_at_in_python_decodes_a_slice_of_streams_at_a_time_with_the_same_result(shop, monkeypatch):
    whole = states_at(shop, orders.decider, method="python")
    monkeypatch.setattr(timetravel, "DECODE_ROWS", 2)  # order-123 (4 events) and order-7 (1) apart
    pd.testing.assert_frame_equal(states_at(shop, orders.decider, method="python"), whole)
    pd.testing.assert_frame_equal(states_at(shop, orders.decider, method="python", position=3),
                                  states_at(shop, orders.decider, method="sql", position=3))


def test_a_page_of_history_is_the_same_rows_as_the_whole_history():
    store = sample.demo_store(n_orders=400)
    stream_id = "stock-espresso-beans"
    whole = history(store, stream_id, orders.stock_decider)
    length = len(whole)
    pd.testing.assert_frame_equal(history(store, stream_id, orders.stock_decider, last=10),
                                  whole.iloc[-10:].reset_index(drop=True))
    pd.testing.assert_frame_equal(history(store, stream_id, orders.stock_decider, versions=(5, 20)),
                                  whole.iloc[4:20].reset_index(drop=True))
    snapshots.take_every(store, orders.stock_decider, 16)  # a page then starts from a snapshot
    pd.testing.assert_frame_equal(history(store, stream_id, orders.stock_decider, versions=(40, length)),
                                  whole.iloc[39:].reset_index(drop=True))
    assert len(history(store, stream_id, orders.stock_decider, last=10 * length)) == length
    for bad in ({"last": 0}, {"versions": (3, 2)}, {"versions": (0, 5)}, {"last": 3, "versions": (1, 2)}):
        with pytest.raises(UsageError, match="last|versions"):
            history(store, stream_id, orders.stock_decider, **bad)
