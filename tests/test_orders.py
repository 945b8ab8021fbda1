"""The order domain: the seed example, every business rule accepted and rejected, and stock."""

from __future__ import annotations

import hypothesis
import pytest
from hypothesis import strategies as st

import eventlab
from eventlab import handle, replay
from eventlab.errors import CommandRejected
from eventlab.examples import orders
from eventlab.examples.orders import (
    AddItem,
    CancelOrder,
    ItemAdded,
    ItemRemoved,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    OrderState,
    OrderStatus,
    PayOrder,
    PlaceOrder,
    ReceiveStock,
    ReleaseStock,
    RemoveItem,
    ReserveStock,
    ShipOrder,
    StockReceived,
    StockReleased,
    StockReserved,
    StockState,
    decider,
    stock_decider,
)
from eventlab.testing import given

placed = OrderPlaced(order_id="123", user_id=1, items=["a", "b"])
paid = OrderPaid(order_id="123", amount=100)
shipped = OrderShipped(order_id="123")
cancelled = OrderCancelled(order_id="123", reason="changed my mind")


@pytest.fixture
def store():
    with eventlab.EventStore() as s:
        yield s


# --- the seed example -------------------------------------------------------------


def test_seed_example_replays_to_paid_then_shipped():
    state = replay([placed, ItemAdded("123", "c"), paid], decider)
    assert state.items == ["a", "b", "c"]
    assert state.paid == 100
    assert state.status == "Paid"
    assert state == OrderState(order_id="123", user_id=1, items=["a", "b", "c"], paid=100, status="Paid")
    assert replay([OrderShipped("123")], decider, state).status == "Shipped"


def test_seed_example_through_the_store_reads_back_the_same_state(store):
    sid = orders.stream_id("123")
    assert sid == "order-123"
    for command in [PlaceOrder("123", 1, ["a", "b"]), AddItem("123", "c"), PayOrder("123", 100)]:
        handle(store, decider, sid, command)
    recorded = store.read(sid)
    assert [r.type for r in recorded] == ["OrderPlaced", "ItemAdded", "OrderPaid"]
    assert [r.event for r in recorded] == [placed, ItemAdded("123", "c"), paid]
    assert recorded[0].data == {"order_id": "123", "user_id": 1, "items": ["a", "b"]}
    assert replay(recorded, decider) == replay([placed, ItemAdded("123", "c"), paid], decider)
    handle(store, decider, sid, ShipOrder("123"))
    assert replay(store.read(sid), decider).status == "Shipped"


def test_status_is_a_string_enum_equal_to_plain_strings():
    assert OrderState().status == "New"
    assert [s.value for s in OrderStatus] == ["New", "Placed", "Paid", "Shipped", "Cancelled"]
    assert OrderStatus.CANCELLED == "Cancelled" and f"{OrderStatus.PAID}" == "Paid"


def test_decider_describes_itself():
    assert (decider.name, decider.category) == ("orders", "order")
    assert (stock_decider.name, stock_decider.category) == ("stock", "stock")
    assert decider.initial_state == OrderState(order_id=None, user_id=None, items=[], paid=0, status="New")


# --- every order rule, accepted ---------------------------------------------------


@pytest.mark.parametrize(("history", "command", "expected"), [
    ((), PlaceOrder("123", 1, ["a", "b"]), placed),
    ((), PlaceOrder("123", 1, []), OrderPlaced("123", 1, [])),
    ((placed,), AddItem("123", "c"), ItemAdded("123", "c")),
    ((placed,), AddItem("123", "a"), ItemAdded("123", "a")),
    ((placed,), RemoveItem("123", "a"), ItemRemoved("123", "a")),
    ((placed,), PayOrder("123", 100), paid),
    ((placed,), PayOrder("123", 0.5), OrderPaid("123", 0.5)),
    ((placed, paid), ShipOrder("123"), shipped),
    ((placed,), CancelOrder("123", "changed my mind"), cancelled),
    ((placed, paid), CancelOrder("123"), OrderCancelled("123", "")),
], ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else f"{len(v)} events")
def test_order_rules_accept(history, command, expected):
    given(decider, *history).when(command).then(expected)


def test_items_keep_their_order_and_duplicates_and_remove_takes_one():
    state = replay([placed, ItemAdded("123", "a"), ItemRemoved("123", "a")], decider)
    assert state.items == ["b", "a"]


# --- every order rule, rejected ---------------------------------------------------


@pytest.mark.parametrize(("history", "command", "reason"), [
    ((placed,), PlaceOrder("123", 1, ["c"]), "order 123 already exists (its status is Placed)"),
    ((), AddItem("123", "c"), "order 123 has not been placed; place it before sending AddItem"),
    ((), RemoveItem("123", "a"), "order 123 has not been placed"),
    ((), PayOrder("123", 100), "order 123 has not been placed"),
    ((), ShipOrder("123"), "order 123 has not been placed"),
    ((), CancelOrder("123"), "order 123 has not been placed"),
    ((placed,), PayOrder("999", 100), "is for order 999, but this stream holds order 123"),
    ((placed, paid), AddItem("123", "c"), "order 123 is already paid; item 'c' cannot be added"),
    ((placed, paid, shipped), AddItem("123", "c"), "order 123 is already shipped"),
    ((placed, cancelled), AddItem("123", "c"), "order 123 is already cancelled"),
    ((placed, paid), RemoveItem("123", "a"), "order 123 is already paid; item 'a' cannot be removed"),
    ((placed,), RemoveItem("123", "z"), "item 'z' is not in order 123"),
    ((OrderPlaced("123", 1, []),), PayOrder("123", 100), "order 123 has no items"),
    ((OrderPlaced("123", 1, ["a"]), ItemRemoved("123", "a")), PayOrder("123", 10), "has no items"),
    ((placed, cancelled), PayOrder("123", 100), "order 123 is cancelled; a cancelled order cannot be paid"),
    ((placed,), PayOrder("123", 0), "a payment must be a positive amount, got 0"),
    ((placed,), PayOrder("123", -5), "positive amount, got -5"),
    ((placed, paid), PayOrder("123", 100), "order 123 is already paid; it cannot be paid twice"),
    ((placed, paid, shipped), PayOrder("123", 100), "cannot be paid twice"),
    ((placed,), ShipOrder("123"), "order 123 is not paid yet; pay it before shipping"),
    ((placed, paid, shipped), ShipOrder("123"), "order 123 is already shipped; it cannot be shipped twice"),
    ((placed, cancelled), ShipOrder("123"), "a cancelled order cannot be shipped"),
    ((placed, paid, cancelled), ShipOrder("123"), "a cancelled order cannot be shipped"),
    ((placed, paid, shipped), CancelOrder("123"), "a shipped order cannot be cancelled"),
    ((placed, cancelled), CancelOrder("123"), "order 123 is already cancelled; it cannot be cancelled"),
    ((placed,), ReceiveStock("a", 1), "the orders decider does not know the command ReceiveStock"),
], ids=lambda v: type(v).__name__ if not isinstance(v, (tuple, str)) else None)
def test_order_rules_reject_with_a_readable_reason(history, command, reason):
    rejection = given(decider, *history).when(command).then_rejected(reason)
    assert rejection.command == command


def test_orders_decider_does_not_check_stock(store):
    """Plain order placement is stock-blind: the benchmark places orders of any SKU with handle."""
    recorded = handle(store, decider, "order-1", PlaceOrder("1", 7, ["sku-0001", "sku-9999"]))
    assert [r.type for r in recorded] == ["OrderPlaced"]
    assert store.stream_version("stock-sku-0001") == 0


def test_evolve_never_rejects_a_fact():
    """Events already happened: an odd one (removing an absent item, a stranger) changes nothing."""
    state = replay([placed], decider)
    assert replay([ItemRemoved("123", "zzz"), StockReceived("a", 1)], decider, state) == state


# --- stock ------------------------------------------------------------------------

received = StockReceived("a", 5)
reserved = StockReserved("a", 3, "1")


def test_stock_state_counts_on_hand_reserved_and_available():
    state = replay([received, reserved, StockReleased("a", 1, "1")], stock_decider)
    assert state == StockState(sku="a", on_hand=5, reserved=2)
    assert state.available == 3


@pytest.mark.parametrize(("history", "command", "expected"), [
    ((), ReceiveStock("a", 5), received),
    ((received,), ReserveStock("a", 5, "1"), StockReserved("a", 5, "1")),
    ((received, reserved), ReserveStock("a", 2, "2"), StockReserved("a", 2, "2")),
    ((received, reserved), ReleaseStock("a", 3, "1"), StockReleased("a", 3, "1")),
])
def test_stock_rules_accept(history, command, expected):
    given(stock_decider, *history).when(command).then(expected)


@pytest.mark.parametrize(("history", "command", "reason"), [
    ((received, reserved), ReserveStock("a", 3, "2"),
     "not enough stock of a for order 2: wanted 3, available 2"),
    ((), ReserveStock("a", 1, "2"), "wanted 1, available 0"),
    ((received, reserved), ReleaseStock("a", 4, "1"), "cannot release 4 of a for order 1: only 3 reserved"),
    ((), ReceiveStock("a", 0), "a stock quantity must be a positive whole number, got 0 for a"),
    ((received,), ReserveStock("a", -1, "1"), "positive whole number, got -1"),
    ((received, reserved), ReleaseStock("a", 0, "1"), "positive whole number, got 0"),
    ((), ReceiveStock("a", 1.5), "positive whole number, got 1.5"),
    ((), PayOrder("1", 10), "the stock decider does not know the command PayOrder"),
])
def test_stock_rules_reject_with_a_readable_reason(history, command, reason):
    given(stock_decider, *history).when(command).then_rejected(reason)


# --- one action, several streams --------------------------------------------------


def test_place_order_reserving_stock_writes_the_order_and_every_reservation(store):
    handle(store, stock_decider, "stock-a", ReceiveStock("a", 2))
    handle(store, stock_decider, "stock-b", ReceiveStock("b", 1))
    recorded = orders.place_order_reserving_stock(store, PlaceOrder("1", 7, ["b", "a", "a"]))
    assert [(r.stream_id, r.version, r.event) for r in recorded] == [
        ("order-1", 1, OrderPlaced("1", 7, ["b", "a", "a"])),
        ("stock-a", 2, StockReserved("a", 2, "1")),
        ("stock-b", 2, StockReserved("b", 1, "1")),
    ]
    assert [r.position for r in recorded] == [3, 4, 5]
    assert replay(store.read("stock-a"), stock_decider).available == 0


def test_place_order_reserving_stock_is_all_or_nothing(store):
    handle(store, stock_decider, "stock-a", ReceiveStock("a", 5))
    handle(store, stock_decider, "stock-b", ReceiveStock("b", 1))
    before = store.read_all()
    with pytest.raises(CommandRejected, match="not enough stock of b for order 1: wanted 2, available 1"):
        orders.place_order_reserving_stock(store, PlaceOrder("1", 7, ["a", "b", "b"]))
    with pytest.raises(CommandRejected, match="not enough stock of never-seen"):
        orders.place_order_reserving_stock(store, PlaceOrder("1", 7, ["a", "never-seen"]))
    assert store.read_all() == before
    assert store.stream_version("order-1") == 0
    orders.place_order_reserving_stock(store, PlaceOrder("1", 7, ["a", "b"]))
    with pytest.raises(CommandRejected, match="order 1 already exists"):
        orders.place_order_reserving_stock(store, PlaceOrder("1", 7, ["a"]))
    assert replay(store.read("stock-a"), stock_decider).reserved == 1


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(st.lists(st.sampled_from([
    orders.OrderPlaced(order_id="1", user_id=1, items=["a", "b"]),
    orders.ItemAdded(order_id="1", item="a"),
    orders.ItemAdded(order_id="1", item="c"),
    orders.ItemRemoved(order_id="1", item="a"),
    orders.OrderPaid(order_id="1", amount=7),
    orders.OrderShipped(order_id="1"),
    orders.OrderCancelled(order_id="1", reason="changed my mind"),
]), max_size=30))
def test_the_fast_fold_is_exactly_evolve_applied_event_by_event(events):
    state = orders.decider.initial_state
    for event in events:
        state = orders.evolve(state, event)
    assert orders.fold(orders.decider.initial_state, events) == state
