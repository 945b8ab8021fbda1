"""The outbox commits with the events; the relay delivers at least once; the inbox applies once."""

from __future__ import annotations

import pytest

import eventlab
from eventlab.application.inbox import Inbox
from eventlab.application.outbox import IntegrationEvent, Outbox
from eventlab.examples import integration, orders
from eventlab.lab.determinism import seeded_ids, ticking_clock


@pytest.fixture
def shop():
    store = eventlab.EventStore(clock=ticking_clock(), ids=seeded_ids(2))
    return store, Outbox(store, integration.translate)


def pay(store, order_id, amount, *, cancel=False):
    stream = orders.stream_id(order_id)
    eventlab.handle(store, orders.decider, stream, orders.PlaceOrder(order_id, 1, ["mug"]))
    eventlab.handle(store, orders.decider, stream, orders.AddItem(order_id, "filters"))
    eventlab.handle(store, orders.decider, stream, orders.PayOrder(order_id, amount))
    if cancel:
        eventlab.handle(store, orders.decider, stream, orders.CancelOrder(order_id, "secret reason"))


def test_only_the_published_events_leave_in_their_own_words(shop):
    store, box = shop
    with box.transaction():
        pay(store, "1", 13.1, cancel=True)
    messages = box.pending_messages()
    assert [m.type for m in messages] == ["shop.order-paid.v1", "shop.order-cancelled.v1"]
    paid = messages[0].data
    assert paid == {"order_id": "1", "at": paid["at"], "amount": 13.1, "currency": "EUR"}
    assert "secret reason" not in str(box.frame()["data"].tolist())  # the reason stays inside
    assert messages[0].source_position == 3


def test_a_block_that_fails_writes_neither_events_nor_messages(shop):
    store, box = shop
    with pytest.raises(RuntimeError), box.transaction():
        pay(store, "1", 13.1)
        raise RuntimeError("the process died before the commit")
    assert store.count() == 0 and box.pending_messages() == []
    with box.transaction():  # the store forgot the rolled-back versions: the order can be placed again
        pay(store, "1", 13.1)
    assert store.count() == 3 and len(box.pending_messages()) == 1
    assert store.verify().ok


def test_a_lost_acknowledgement_sends_again_and_the_inbox_counts_once(shop):
    store, box = shop
    with box.transaction():
        pay(store, "1", 13.1)
        pay(store, "2", 39.0)
        pay(store, "3", 9.9, cancel=True)
    delivered: list[IntegrationEvent] = []

    def broker(message):
        delivered.append(message)
        if len(delivered) == 2:
            raise ConnectionError("the broker got it, but its acknowledgement was lost")

    with pytest.raises(ConnectionError):
        box.relay(broker)
    assert box.relay(broker) == 3
    assert [m.data["order_id"] for m in delivered] == ["1", "2", "2", "3", "3"]  # order 2's message twice
    assert box.pending_messages() == [] and box.frame()["attempts"].tolist() == [1, 2, 1, 1]

    naive, loyal = eventlab.EventStore(), eventlab.EventStore()
    inbox = Inbox(loyal, "loyalty")
    applied = []
    for message in delivered:
        with naive.connection() as con:
            integration.award_points(con, message)
        applied.append(inbox.receive(message, integration.award_points))
    assert applied == [True, True, False, True, True]
    with naive.connection() as con, loyal.connection() as con2:
        assert integration.total_points(con) == 13 + 39 + 39  # the repeat gave 39 points for nothing
        assert integration.total_points(con2) == 13 + 39  # order 3's 9 points were taken back
    assert inbox.processed() == 4


def test_an_effect_that_fails_is_not_marked_processed():
    store = eventlab.EventStore()
    inbox = Inbox(store, "loyalty")
    message = IntegrationEvent("shop.order-paid.v1", {"order_id": "1", "amount": 5.0}, "m-1")

    def broken(con, message):
        integration.award_points(con, message)
        raise ValueError("the points service fell over")

    with pytest.raises(ValueError):
        inbox.receive(message, broken)
    assert not inbox.seen("m-1")
    assert inbox.receive(message, integration.award_points)
    with store.connection() as con:
        assert integration.total_points(con) == 5


def test_translating_the_same_event_twice_gives_the_same_message_id(shop):
    store, _ = shop
    pay(store, "1", 13.1)
    paid = store.read("order-1")[-1]
    assert integration.translate(paid) == integration.translate(paid)
    assert integration.translate(store.read("order-1")[1]) == []  # ItemAdded stays inside


def test_transaction_inside_a_unit_of_work_is_refused(shop):
    store, box = shop
    with store.unit_of_work(), pytest.raises(eventlab.StoreError, match="inside a unit_of_work"), \
            box.transaction():
        pass


def test_a_bad_outbox_name_is_refused(shop):
    store, _ = shop
    with pytest.raises(eventlab.UsageError, match="plain SQL identifier"):
        Outbox(store, integration.translate, name="out box; DROP TABLE events")
