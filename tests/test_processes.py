"""The checkout saga: a process manager with its own stream, a timeout and a compensation."""

from __future__ import annotations

from datetime import timedelta

import pytest

import eventlab
from eventlab.application import processes
from eventlab.examples import checkout, orders
from eventlab.lab.determinism import HandClock, seeded_ids


@pytest.fixture
def shop():
    clock = HandClock()
    store = eventlab.EventStore(clock=clock, ids=seeded_ids(1))
    return store, clock


def place(store, order_id, items):
    eventlab.handle(store, orders.decider, orders.stream_id(order_id), orders.PlaceOrder(order_id, 1, items))


def status(store, decider, stream_id):
    return eventlab.replay(store.read(stream_id), decider).status


def test_the_happy_path_pays_and_ships_the_order(shop):
    store, clock = shop
    place(store, "1", ["mug", "biscuits"])
    assert [e.type for e in processes.run(store, checkout.process)] == ["CheckoutStarted"]
    assert status(store, checkout.payments, "payment-1") == "Requested"
    assert eventlab.replay(store.read("payment-1"), checkout.payments).amount == 14.7
    eventlab.handle(store, checkout.payments, "payment-1", checkout.CapturePayment("1"))
    processes.run(store, checkout.process)
    eventlab.handle(store, checkout.shipments, "shipment-1", checkout.DispatchShipment("1"))
    processes.run(store, checkout.process)
    order = eventlab.replay(store.read("order-1"), orders.decider)
    assert (order.status, order.paid) == ("Shipped", 14.7)
    assert status(store, checkout.checkout, "checkout-1") == "Completed"


def test_a_failed_shipment_is_compensated_refund_and_cancel(shop):
    store, _ = shop
    place(store, "3", ["teapot"])
    processes.run(store, checkout.process)
    eventlab.handle(store, checkout.payments, "payment-3", checkout.CapturePayment("3"))
    processes.run(store, checkout.process)
    eventlab.handle(store, checkout.shipments, "shipment-3", checkout.ReportShipmentFailed("3", "broken"))
    assert [e.type for e in processes.run(store, checkout.process)] == ["CheckoutCompensated"]
    assert status(store, checkout.payments, "payment-3") == "Refunded"
    order = eventlab.replay(store.read("order-3"), orders.decider)
    assert (order.status, order.paid) == ("Cancelled", 27.5)  # the payment stays, refunded beside it
    assert store.verify().ok


def test_no_payment_in_time_cancels_payment_and_order_once(shop):
    store, clock = shop
    place(store, "2", ["kettle"])
    processes.run(store, checkout.process)
    clock.now += checkout.PAYMENT_WINDOW - timedelta(seconds=1)
    assert processes.fire_timeouts(store, checkout.process, clock()) == []
    clock.now += timedelta(seconds=1)
    assert [e.type for e in processes.fire_timeouts(store, checkout.process, clock())] == ["CheckoutTimedOut"]
    assert processes.fire_timeouts(store, checkout.process, clock()) == []  # fired twice: nothing more
    assert status(store, orders.decider, "order-2") == "Cancelled"
    assert status(store, checkout.payments, "payment-2") == "Cancelled"
    with pytest.raises(eventlab.CommandRejected, match="cancelled, not requested"):  # a late capture
        eventlab.handle(store, checkout.payments, "payment-2", checkout.CapturePayment("2"))


def test_run_resumes_after_the_last_trigger_and_redelivery_is_harmless(shop):
    store, _ = shop
    place(store, "1", ["mug"])
    processes.run(store, checkout.process)
    before = store.count()
    assert processes.run(store, checkout.process) == []
    assert processes.run(store, checkout.process, from_position=1) == []  # every event again
    assert store.count() == before
    assert processes.next_position(store, checkout.process) == 2


def test_a_rejected_command_writes_nothing_of_the_step_and_is_tried_again(shop):
    store, _ = shop
    place(store, "1", ["mug"])
    processes.run(store, checkout.process)
    eventlab.handle(store, orders.decider, "order-1", orders.CancelOrder("1", "changed my mind"))
    eventlab.handle(store, checkout.payments, "payment-1", checkout.CapturePayment("1"))
    before = store.count()
    with pytest.raises(eventlab.CommandRejected, match="cancelled order cannot be paid"):
        processes.run(store, checkout.process)
    assert store.count() == before
    assert status(store, checkout.checkout, "checkout-1") == "AwaitingPayment"


def test_the_process_state_travels_in_time(shop):
    store, clock = shop
    place(store, "1", ["mug"])
    processes.run(store, checkout.process)
    started = clock()
    clock.now += timedelta(minutes=5)
    eventlab.handle(store, checkout.payments, "payment-1", checkout.CapturePayment("1"))
    processes.run(store, checkout.process)
    then = eventlab.state_at(store, "checkout-1", checkout.checkout, as_of=started)
    assert then.status == "AwaitingPayment"
    assert eventlab.state_at(store, "checkout-1", checkout.checkout).status == "AwaitingShipment"
    trail = eventlab.history(store, "checkout-1", checkout.checkout)
    assert list(trail["status"]) == ["AwaitingPayment", "AwaitingShipment"]


def test_unpriced_items_cancel_the_checkout():
    store = eventlab.EventStore()
    place(store, "9", ["unicorn"])
    assert [e.type for e in processes.run(store, checkout.process)] == ["CheckoutCancelled"]
    assert status(store, orders.decider, "order-9") == "Cancelled"


def test_a_process_decider_without_category_is_refused():
    manager = processes.ProcessManager(eventlab.Decider(0, lambda s, e: s), lambda e: None,
                                       lambda e, s: [], lambda s: None)
    with pytest.raises(eventlab.UsageError, match="has no category"):
        processes.run(eventlab.EventStore(), manager)
