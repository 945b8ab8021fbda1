"""The example queries answer what their descriptions say."""

from datetime import datetime, timedelta, timezone

import eventlab
from eventlab.examples import orders
from eventlab.queries import run_query

MONDAY = datetime(2024, 6, 3, 9, tzinfo=timezone.utc)


def test_abandoned_carts_are_counted_among_the_orders_old_enough_to_be_abandoned():
    now = [MONDAY]
    store = eventlab.EventStore(clock=lambda: now[0])
    store.append(orders.stream_id("1"), [orders.OrderPlaced(order_id="1", user_id=1, items=["a"])])
    store.append(orders.stream_id("2"), [orders.OrderPlaced(order_id="2", user_id=1, items=["a"]),
                                         orders.OrderPaid(order_id="2", amount=5)])
    now[0] = MONDAY + timedelta(days=3)  # Thursday: orders 1 and 2 are old enough, order 3 is not
    store.append(orders.stream_id("3"), [orders.OrderPlaced(order_id="3", user_id=1, items=["a"])])
    week = run_query(store, "abandoned_carts").iloc[0]
    assert (week["placed"], week["old_enough"], week["abandoned"]) == (3, 2, 1)
    assert week["percent_abandoned"] == 50.0  # order 1 of orders 1 and 2; order 3 may still be paid
