"""Snapshots are a cache: same answers with or without them, stale shapes never loaded."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import handle, snapshots
from eventlab.examples import orders
from eventlab.timetravel import history, state_at, states_at

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


def minute_clock():
    moments = iter(T0 + timedelta(minutes=i) for i in range(10**6))
    return lambda: next(moments)


def long_order(n_items=50):
    store = eventlab.EventStore(clock=minute_clock())
    handle(store, orders.decider, "order-1", orders.PlaceOrder(order_id="1", user_id=1, items=[]))
    for i in range(n_items):
        handle(store, orders.decider, "order-1", orders.AddItem(order_id="1", item=f"sku-{i}"))
    return store


def test_a_snapshot_stores_the_state_and_restores_its_types():
    store = long_order(10)
    handle(store, orders.decider, "order-1", orders.PayOrder(order_id="1", amount=30))
    snap = snapshots.take(store, "order-1", orders.decider)
    assert (snap.version, snap.position) == (12, 12)
    again = snapshots.latest(store, "order-1", orders.decider)
    assert again.state == snap.state == state_at(store, "order-1", orders.decider)
    assert again.state.status is orders.OrderStatus.PAID  # an enum again, not just a string
    assert snapshots.latest(store, "order-1", orders.decider, version=11) is None


def test_time_travel_starts_from_the_newest_usable_snapshot():
    store = long_order(20)
    snapshots.take(store, "order-1", orders.decider, version=10)
    # plant a state that replay would never produce: if it shows up, the snapshot was used
    store.sql("UPDATE snapshots SET state = json_object('order_id', '1', 'user_id', 1, 'items', "
              "['planted'], 'paid', 0, 'status', 'Placed')")
    # version 11 is the 10th AddItem (sku-9): one event replayed on top of the planted state
    assert state_at(store, "order-1", orders.decider, version=11).items == ["planted", "sku-9"]
    assert state_at(store, "order-1", orders.decider, version=9).items[:1] == ["sku-0"]  # before it
    snapshots.delete_all(store)
    assert state_at(store, "order-1", orders.decider, version=11).items[0] == "sku-0"


def test_a_snapshot_of_another_state_shape_is_ignored():
    store = long_order(5)
    snapshots.take(store, "order-1", orders.decider)
    store.sql("UPDATE snapshots SET state = '{\"shape\": \"old\"}'")
    reshaped = dataclasses.replace(orders.decider, state_version=2)
    assert state_at(store, "order-1", reshaped).items == [f"sku-{i}" for i in range(5)]
    assert snapshots.latest(store, "order-1", reshaped) is None


def test_the_every_n_policy_snapshots_as_handle_goes():
    store = eventlab.EventStore(clock=minute_clock())
    snapshots.every(store, orders.decider, 10)
    handle(store, orders.decider, "order-1", orders.PlaceOrder(order_id="1", user_id=1, items=[]))
    for i in range(24):
        handle(store, orders.decider, "order-1", orders.AddItem(order_id="1", item=f"sku-{i}"))
    versions = [v for (v,) in store.sql("SELECT version FROM snapshots ORDER BY 1").fetchall()]
    assert versions == [10, 20]
    with pytest.raises(eventlab.UsageError, match="n >= 1"):
        snapshots.every(store, orders.decider, 0)


def test_snapshots_need_a_named_decider_and_events():
    store = long_order(1)
    with pytest.raises(eventlab.UsageError, match="name"):
        snapshots.take(store, "order-1", dataclasses.replace(orders.decider, name=""))
    with pytest.raises(eventlab.UsageError, match="no events"):
        snapshots.take(store, "order-404", orders.decider)


order_ids = st.sampled_from(["1", "2"])
commands = st.one_of(
    st.builds(orders.PlaceOrder, order_id=order_ids, user_id=st.just(1),
              items=st.lists(st.sampled_from("ab"), max_size=2)),
    st.builds(orders.AddItem, order_id=order_ids, item=st.sampled_from("abc")),
    st.builds(orders.RemoveItem, order_id=order_ids, item=st.sampled_from("abc")),
    st.builds(orders.PayOrder, order_id=order_ids, amount=st.sampled_from([5, 7.5])),
    st.builds(orders.ShipOrder, order_id=order_ids),
    st.builds(orders.CancelOrder, order_id=order_ids),
)


def run(history, every=None):
    store = eventlab.EventStore(clock=minute_clock())
    if every:
        snapshots.every(store, orders.decider, every)
    outcomes = []
    for command in history:
        try:
            written = handle(store, orders.decider, orders.stream_id(command.order_id), command)
            outcomes.append([(r.type, r.data) for r in written])
        except eventlab.CommandRejected as rejected:
            outcomes.append(rejected.reason)
    return store, outcomes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, max_size=30), st.integers(1, 4))
def test_with_and_without_snapshots_everything_is_the_same(history, every):
    plain, plain_outcomes = run(history)
    cached, cached_outcomes = run(history, every)
    assert cached_outcomes == plain_outcomes
    for stream_id in plain.streams():
        for v in range(plain.stream_version(stream_id) + 1):
            assert state_at(cached, stream_id, orders.decider, version=v) == \
                state_at(plain, stream_id, orders.decider, version=v)
        moment = T0 + timedelta(minutes=len(history) // 2)
        assert state_at(cached, stream_id, orders.decider, as_of=moment) == \
            state_at(plain, stream_id, orders.decider, as_of=moment)
    pd.testing.assert_frame_equal(states_at(cached, orders.decider, method="python"),
                                  states_at(plain, orders.decider, method="python"))
    snapshots.delete_all(cached)
    for stream_id in plain.streams():
        assert state_at(cached, stream_id, orders.decider) == state_at(plain, stream_id, orders.decider)


def test_snapshots_changed_behind_the_store_s_back_never_give_a_wrong_state(tmp_path):
    """``latest`` finds snapshots in a list kept per store; deleted or added elsewhere, answers stay right."""
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path, clock=minute_clock()) as store:
        handle(store, orders.decider, "order-1", orders.PlaceOrder(order_id="1", user_id=1, items=[]))
        for i in range(30):
            handle(store, orders.decider, "order-1", orders.AddItem(order_id="1", item=f"sku-{i}"))
    expected = {v: state_at(eventlab.EventStore(path, read_only=True), "order-1", orders.decider, version=v)
                for v in (5, 12, 31)}
    store, other = eventlab.EventStore(path), eventlab.EventStore(path)
    snapshots.take(store, "order-1", orders.decider, version=10)
    assert snapshots.versions(store, "order-1", orders.decider) == [10]
    store.sql("DELETE FROM snapshots")  # gone, while the store's list still names it
    assert state_at(store, "order-1", orders.decider, version=12) == expected[12]
    snapshots.take(other, "order-1", orders.decider, version=20)  # another store object: store's list is old
    store.sql("UPDATE snapshots SET state = json_object('order_id', '1', 'user_id', 1, 'items', ['planted'], "
              "'paid', 0, 'status', 'Placed')")
    assert all(state_at(store, "order-1", orders.decider, version=v) == expected[v] for v in expected)
    assert state_at(other, "order-1", orders.decider, version=31).items[0] == "planted"  # its list has it
    assert snapshots.versions(store, "order-1", orders.decider) == []
    snapshots.take(store, "order-1", orders.decider, version=30)  # taking one adds it to the list
    assert snapshots.versions(store, "order-1", orders.decider) == [30]
    assert [v for v, _, _ in snapshots.marks(store, orders.decider, fresh=True)["order-1"]] == [20, 30]
    assert snapshots.delete_all(store) == 2 and snapshots.versions(store, "order-1", orders.decider) == []


STATE_STORAGE = ("SELECT compression FROM pragma_storage_info('snapshots') "
                 "WHERE column_name = 'state' AND segment_type = 'JSON'")


def test_snapshots_stored_by_earlier_versions_keep_reading(tmp_path):
    """A snapshots table made before the state was stored uncompressed (plain JSON column) reads the same."""
    path = tmp_path / "old.duckdb"
    with eventlab.EventStore(path, clock=minute_clock()) as store:
        handle(store, orders.decider, "order-1", orders.PlaceOrder(order_id="1", user_id=1, items=["a"]))
        for i in range(3000):
            store.append("order-1", [orders.ItemAdded(order_id="1", item=f"sku-{i}")])
        store.sql(snapshots.SNAPSHOTS_DDL.replace(" USING COMPRESSION uncompressed", ""))
        snapshots.take(store, "order-1", orders.decider, version=2000)
        store.sql("CHECKPOINT")
        kinds = {kind for (kind,) in store.sql(STATE_STORAGE).fetchall()}
        assert "Uncompressed" not in kinds, kinds  # the old form: DuckDB chose a compression
    with eventlab.EventStore(path, read_only=True) as store:
        assert snapshots.latest(store, "order-1", orders.decider).version == 2000
        snap_state = state_at(store, "order-1", orders.decider)
        assert snap_state == eventlab.replay(store.read("order-1"), orders.decider)
        assert snap_state.items[:2] == ["a", "sku-0"] and len(snap_state.items) == 3001
    with eventlab.EventStore(tmp_path / "new.duckdb") as store:
        store.append("order-2", [orders.OrderPlaced(order_id="2", user_id=1, items=["x" * 300] * 300)])
        snapshots.take(store, "order-2", orders.decider)
        store.sql("CHECKPOINT")
        assert {kind for (kind,) in store.sql(STATE_STORAGE).fetchall()} == {"Uncompressed"}


# --- the stored text says when it was checked for what orjson would read differently ---------------

def _ledger():
    """A raw decider whose state sums amounts exactly, beyond 64 bits if they are big."""
    def evolve(state, event):
        return {"total": state["total"] + event.data["amount"], "count": state["count"] + 1}
    return eventlab.Decider({"total": 0, "count": 0}, evolve, None, name="ledger", category="ledger",
                            raw=True)


@pytest.mark.parametrize("amount", [7, 10**30, -(10**19) + 1])
@pytest.mark.parametrize("taking", ["take", "take_every"])
def test_a_state_with_integers_past_64_bits_reads_back_exact(amount, taking):
    ledger, store = _ledger(), eventlab.EventStore(clock=minute_clock())
    store.append("ledger-1", [eventlab.NewEvent("Paid", {"amount": amount}) for _ in range(4)])
    if taking == "take":
        snapshots.take(store, "ledger-1", ledger)
    else:
        assert snapshots.take_every(store, ledger, 4) == 1
    ((text,),) = store.rows("SELECT state FROM snapshots")
    assert text.endswith(snapshots.CHECKED) == (abs(amount) < 10**18)  # the big ones are searched again
    restored = snapshots.latest(store, "ledger-1", ledger).state
    assert restored == {"total": 4 * amount, "count": 4} and type(restored["total"]) is int
    assert store.rows("SELECT state->>'count' FROM snapshots") == [("4",)]  # SQL reads it alike


def test_a_snapshot_written_without_the_mark_is_searched_as_it_is_read():
    ledger, store = _ledger(), eventlab.EventStore(clock=minute_clock())
    store.append("ledger-1", [eventlab.NewEvent("Paid", {"amount": 1})])
    snapshots.take(store, "ledger-1", ledger)
    store.sql("UPDATE snapshots SET state = '{\"total\":123456789012345678901234567890,\"count\":1}'")
    assert snapshots.latest(store, "ledger-1", ledger).state["total"] == 123456789012345678901234567890


# --- before a stream's first snapshot: the stretch of the log before it, not the stream's index -----

def test_before_the_first_snapshot_time_travel_reads_the_log_before_it_with_the_same_answers(monkeypatch):
    store = eventlab.EventStore(clock=minute_clock())
    for n in ("1", "2"):
        handle(store, orders.decider, f"order-{n}", orders.PlaceOrder(order_id=n, user_id=1, items=[]))
    for i in range(700):  # order-1: 701 events, more than a short read takes; order-2 between them
        store.append("order-1", [orders.ItemAdded(order_id="1", item=f"sku-{i}")])
        if i % 3 == 0:
            store.append("order-2", [orders.ItemAdded(order_id="2", item=f"x-{i}")])
    records = store.read("order-1")
    assert snapshots.take_every(store, orders.decider, 600) == 1  # order-1 at version 600 only
    queries = []
    for read in ("rows", "arrow"):
        original = getattr(store, read)
        monkeypatch.setattr(store, read, lambda sql, params=(), original=original:
                            queries.append(sql) or original(sql, params))
    for version in (1, 2, 300, 512, 513, 599):
        expected = eventlab.replay(records[:version], orders.decider)
        record = records[version - 1]
        assert state_at(store, "order-1", orders.decider, version=version) == expected
        assert state_at(store, "order-1", orders.decider, position=record.position) == expected
        assert state_at(store, "order-1", orders.decider, as_of=record.recorded_at) == expected
    page = history(store, "order-1", orders.decider, versions=(500, 550))
    stream_reads = [sql for sql in queries if "stream_id = ?" in sql]
    assert stream_reads and all("position <= ?" in sql for sql in stream_reads), queries
    snapshots.delete_all(store)  # the readable way: the stream's index, no snapshot anywhere
    pd.testing.assert_frame_equal(page, history(store, "order-1", orders.decider, versions=(500, 550)))
    assert state_at(store, "order-1", orders.decider, version=700) == eventlab.replay(records[:700],
                                                                                     orders.decider)
