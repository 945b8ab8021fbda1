"""The CRUD twin: the same rules on rows updated in place; what it can, and cannot, answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import crud
from eventlab.examples import orders

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
ORDER_IDS, ITEMS = st.sampled_from(["1", "2", "3"]), st.sampled_from(["a", "b", "c"])
COMMANDS = st.lists(st.one_of(
    st.builds(orders.PlaceOrder, ORDER_IDS, st.integers(1, 3), st.lists(ITEMS, max_size=3)),
    st.builds(orders.AddItem, ORDER_IDS, ITEMS),
    st.builds(orders.RemoveItem, ORDER_IDS, ITEMS),
    st.builds(orders.PayOrder, ORDER_IDS, st.sampled_from([-1, 0, 10, 12.5]),
              st.sampled_from(["EUR", "USD"])),
    st.builds(orders.ShipOrder, ORDER_IDS),
    st.builds(orders.CancelOrder, ORDER_IDS, st.sampled_from(["", "too slow"])),
), max_size=40)


def clock():
    moments = iter(T0 + timedelta(hours=i) for i in range(10**6))
    return lambda: next(moments)


def outcome(run, command) -> str | None:
    """None if the command went through, else the reason it was rejected."""
    try:
        run(command)
    except eventlab.CommandRejected as exc:
        return exc.reason
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=COMMANDS)
def test_the_crud_twin_accepts_rejects_and_ends_like_the_event_sourced_shop(commands):
    with eventlab.EventStore() as store, crud.CrudShop() as shop:
        def handle(command):
            eventlab.handle(store, orders.decider, orders.stream_id(command.order_id), command)

        for command in commands:
            assert outcome(shop.execute, command) == outcome(handle, command)
        assert shop.orders_df().to_dict("records") == \
            eventlab.states_at(store, orders.decider).to_dict("records")
        for order_id in ("1", "2", "3"):
            sourced = eventlab.state_at(store, orders.stream_id(order_id), orders.decider)
            assert shop.order(order_id) == sourced


def test_a_crud_twin_can_be_loaded_with_the_current_state_of_a_store():
    with eventlab.EventStore(clock=clock()) as store:
        eventlab.handle(store, orders.decider, "order-1", orders.PlaceOrder("1", 7, ["a", "b"]))
        eventlab.handle(store, orders.decider, "order-1", orders.PayOrder("1", 20, "USD"))
        eventlab.handle(store, orders.decider, "order-2", orders.PlaceOrder("2", 8, ["c"]))
        eventlab.handle(store, orders.decider, "order-2", orders.CancelOrder("2", "too slow"))
        with crud.CrudShop.from_store(store) as shop:
            assert shop.orders_df().to_dict("records") == \
                eventlab.states_at(store, orders.decider).to_dict("records")
            assert shop.sql("SELECT order_id, currency, cancel_reason, updated_at FROM orders "
                            "ORDER BY order_id").fetchall() == [
                ("1", "USD", None, T0 + timedelta(hours=1)), ("2", None, "too slow", T0 + timedelta(hours=3))]


def test_only_the_event_sourced_side_can_answer_for_the_past():
    with eventlab.EventStore(clock=clock()) as store, crud.CrudShop(clock=clock()) as shop:
        for command in [orders.PlaceOrder("123", 1, ["a", "b"]), orders.AddItem("123", "c"),
                        orders.RemoveItem("123", "a"), orders.PayOrder("123", 100)]:
            eventlab.handle(store, orders.decider, "order-123", command)
            shop.execute(command)
        answers = crud.questions(store, shop, "123", as_of=T0 + timedelta(minutes=90))
    now, past, changes, vanished = answers.to_dict("records")
    assert now["event_sourced"] == now["crud"] == "Paid, items ['b', 'c'], paid 100"
    assert past["event_sourced"] == "Placed, items ['a', 'b', 'c'], paid 0"
    assert changes["event_sourced"].count(";") == 3 and "v3 ItemRemoved" in changes["event_sourced"]
    assert vanished["event_sourced"].startswith("ItemRemoved 'a' at version 3")
    assert all(row["crud"].startswith("cannot:") for row in (past, changes, vanished))


def test_storage_and_costs_are_measured_on_the_same_workload():
    commands = [orders.PlaceOrder(str(n), n, ["a", "b"]) for n in range(10)]
    commands += [orders.AddItem(str(n), "c") for n in range(10)] + [orders.PayOrder("3", 0)]
    with eventlab.EventStore() as store, crud.CrudShop() as shop:
        costs = crud.compare_costs(store, shop, commands, reads=20)
        assert costs["operation"].tolist() == [
            "write one command", "read one order now", "read every order now"]
        assert (costs[["event_sourced_ms", "crud_ms"]] > 0).all().all()
        sizes = crud.storage(store, shop).set_index("side")
        assert sizes.loc["event sourced", "rows"] == 20  # one event per accepted command
        assert sizes.loc["crud", "rows"] == 10 + 30      # one row per order, one per item
        assert (sizes["bytes"] > 0).all()
        # the same rows inserted in the opposite order take the same bytes
        with crud.CrudShop() as reversed_shop:
            for table, key in (("orders", "order_id"), ("order_items", "order_id, line")):
                reversed_shop._con.register("rows", shop._con.execute(f"SELECT * FROM {table}").df())
                reversed_shop._con.execute(f"INSERT INTO {table} SELECT * FROM rows ORDER BY {key} DESC")
                reversed_shop._con.unregister("rows")
            assert crud.storage(store, reversed_shop).equals(crud.storage(store, shop))
        assert shop.orders_df().to_dict("records") == \
            eventlab.states_at(store, orders.decider).to_dict("records")
