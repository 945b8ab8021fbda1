"""The sample data: deterministic, valid under the business rules, realistic, and shipped as generated."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest

import eventlab
from eventlab.examples import orders
from eventlab.sample import CATALOGUE, COLUMNS, demo_store, generate_orders, write_data

DATA = Path(__file__).resolve().parent.parent / "data"

# the command that each stored event answers: re-deciding it must give the event back
COMMAND_FOR = {
    "OrderPlaced": lambda d: orders.PlaceOrder(d["order_id"], d["user_id"], d["items"]),
    "ItemAdded": lambda d: orders.AddItem(d["order_id"], d["item"]),
    "ItemRemoved": lambda d: orders.RemoveItem(d["order_id"], d["item"]),
    "OrderPaid": lambda d: orders.PayOrder(d["order_id"], d["amount"]),
    "OrderShipped": lambda d: orders.ShipOrder(d["order_id"]),
    "OrderCancelled": lambda d: orders.CancelOrder(d["order_id"], d["reason"]),
    "StockReceived": lambda d: orders.ReceiveStock(d["sku"], d["quantity"]),
    "StockReserved": lambda d: orders.ReserveStock(d["sku"], d["quantity"], d["order_id"]),
    "StockReleased": lambda d: orders.ReleaseStock(d["sku"], d["quantity"], d["order_id"]),
}


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_orders(400, seed=11)


@pytest.fixture(scope="module")
def store():
    with demo_store(n_orders=400, seed=11) as store:
        yield store


def test_the_same_seed_gives_the_same_log_and_the_same_hashes(events):
    again = generate_orders(400, seed=11)
    pd.testing.assert_frame_equal(events, again)
    assert events.attrs["stats"] == again.attrs["stats"]
    with demo_store(n_orders=400, seed=11) as one, demo_store(n_orders=400, seed=11) as two:
        everything = "SELECT * FROM events ORDER BY position"
        pd.testing.assert_frame_equal(one.sql(everything).df(), two.sql(everything).df())
        assert one.verify().head_hash == two.verify().head_hash


def test_another_seed_gives_another_log(events):
    other = generate_orders(400, seed=12)
    assert not events[["stream_id", "type", "data"]].equals(other[["stream_id", "type", "data"]])
    assert set(events["event_id"]).isdisjoint(other["event_id"])


def test_the_frame_is_in_the_import_format_and_the_demo_store_holds_it(events, store):
    assert list(events.columns) == COLUMNS
    assert events["position"].tolist() == list(range(1, len(events) + 1))
    assert events["recorded_at"].is_monotonic_increasing
    assert str(events["recorded_at"].dtype) == "datetime64[us, UTC]"
    stored = store.read_all_df()
    assert stored["event_id"].astype(str).tolist() == events["event_id"].tolist()
    assert stored["data"].tolist() == events["data"].tolist()
    assert (stored["recorded_at"] == events["recorded_at"]).all()
    assert store.verify().ok


def test_every_event_is_what_the_deciders_decide_for_its_command(store):
    """Replay each stream, re-deciding each event's command on the state before it: same event back."""
    deciders = {"order": orders.decider, "stock": orders.stock_decider}
    states = {}
    for record in store.read_all():
        decider = deciders[record.stream_id.split("-")[0]]
        state = states.get(record.stream_id, decider.initial_state)
        assert decider.decide(COMMAND_FOR[record.type](record.data), state) == [record.event], record
        states[record.stream_id] = decider.evolve(state, record.event)
    for stream_id, state in states.items():
        if stream_id.startswith("stock-"):
            assert state.reserved >= 0 and state.available >= 0  # stock was never over-promised


def test_orders_and_stock_agree(store):
    """Each order's reservations minus releases are its items (none once cancelled); it paid their price."""
    held = defaultdict(Counter)
    for record in store.read_all():
        if record.type in ("StockReserved", "StockReleased"):
            sign = 1 if record.type == "StockReserved" else -1
            held[record.data["order_id"]][record.data["sku"]] += sign * record.data["quantity"]
    states = eventlab.states_at(store, orders.decider)
    for order in states.itertuples():
        expected = Counter() if order.status == "Cancelled" else Counter(order.items)
        assert +held[order.order_id] == expected, order
        if order.status in ("Paid", "Shipped"):
            assert order.paid == round(sum(CATALOGUE[sku] for sku in order.items), 2)


def test_the_story_has_rejections_cancellations_abandoned_carts_and_late_payments(events):
    stats = events.attrs["stats"]
    assert stats["orders_rejected_for_stock"] > 0
    assert stats["orders_placed"] + stats["orders_rejected_for_stock"] == 400
    assert stats["cancelled"] > 0 and stats["unpaid_at_the_end"] > 0 and stats["shipped"] > 0
    assert stats["commands_rejected"] == 0  # the plan only sends commands that make sense
    assert (events["type"] == "ItemRemoved").any() and (events["type"] == "ItemAdded").any()
    late = events[events["occurred_at"].notna()]
    assert len(late) == stats["late_payments"] > 0
    assert (late["type"] == "OrderPaid").all()
    assert (late["recorded_at"] - late["occurred_at"] > pd.Timedelta(days=1)).all()
    assert late["metadata"].str.contains("bank-transfer").all()


def test_the_shop_is_busy_in_the_evening_and_at_weekends():
    placed = pd.read_parquet(DATA / "orders-sample.parquet").query("type == 'OrderPlaced'")["recorded_at"]
    hours, days = placed.dt.hour, placed.dt.day_of_week  # day 0 is Monday; six weeks of each day
    assert hours.between(18, 22).sum() > 3 * hours.between(1, 5).sum()
    assert (days >= 5).sum() / 2 > 1.2 * (days < 5).sum() / 5


def test_the_shipped_data_files_regenerate_exactly(tmp_path):
    parquet, csv = write_data(tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), pd.read_parquet(DATA / "orders-sample.parquet"))
    assert csv.read_text() == (DATA / "orders-sample.csv").read_text()
    readme = (DATA / "README.md").read_text()
    assert "python -m eventlab.sample --write-data data/" in readme
    assert f"{len(pd.read_parquet(parquet)):,} events" in readme
