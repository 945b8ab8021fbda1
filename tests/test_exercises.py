"""The exercise checks accept right answers and explain wrong ones."""

from __future__ import annotations

import eventlab
from eventlab import CommandRejected, ConcurrencyError
from eventlab.core.upcasters import UPCASTERS
from eventlab.exercises import (
    Account,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    check_customer_orders,
    check_decide,
    check_evolve,
    check_handle,
    check_paid_per_day,
    check_status_at,
    check_upcaster,
    practice_shop,
)


def unwritten(*args):
    raise NotImplementedError


def good_evolve(state, event):
    match event:
        case AccountOpened(owner=owner):
            return Account(owner, 0)
        case MoneyDeposited(amount=amount):
            return Account(state.owner, state.balance + amount)
        case MoneyWithdrawn(amount=amount):
            return Account(state.owner, state.balance - amount)
    return state


def test_evolve_check():
    assert check_evolve(good_evolve)
    forgets_withdrawals = lambda s, e: s if isinstance(e, MoneyWithdrawn) else good_evolve(s, e)  # noqa: E731
    verdict = check_evolve(forgets_withdrawals)
    assert not verdict and "should be" in verdict.message
    assert repr(check_evolve(unwritten)).startswith("❌ Not yet: evolve still raises NotImplementedError")


def test_decide_check():
    def good(command, state):
        if state.owner is None or not 0 < command.amount <= state.balance:
            raise CommandRejected("no")
        return [MoneyWithdrawn(command.account_id, command.amount)]

    def allows_overdraft(command, state):
        return [MoneyWithdrawn(command.account_id, command.amount)]

    assert check_decide(good)
    assert "should give rejected" in check_decide(allows_overdraft).message
    not_yet = check_decide(unwritten)
    assert not not_yet and "decide still raises NotImplementedError" in not_yet.message


def test_time_travel_and_sql_checks():
    shop = practice_shop()
    assert check_status_at(shop, "Shipped")
    assert not check_status_at(shop, "Placed")
    assert not check_status_at(shop, None)
    assert "answer is still None" in check_status_at(shop, None).message
    right = ("SELECT recorded_at::DATE AS day, count(*) AS orders, sum((data->>'amount')::DOUBLE) AS amount "
             "FROM events WHERE type = 'OrderPaid' GROUP BY day ORDER BY day")
    assert check_paid_per_day(shop, right)
    assert not check_paid_per_day(shop, None) and "still None" in check_paid_per_day(shop, None).message
    assert "fails" in check_paid_per_day(shop, "SELECT nonsense FROM").message
    assert "columns" in check_paid_per_day(shop, "SELECT 1 AS x").message
    assert not check_paid_per_day(shop, right.replace("'OrderPaid'", "'OrderPlaced'"))


def test_the_practice_shop_is_always_the_same():
    assert practice_shop().verify().head_hash == practice_shop().verify().head_hash


def good_upcaster(data):
    return {"product": data["product"], "cents": round(data["price"] * 100), "currency": "EUR"}


def test_upcaster_check():
    assert check_upcaster(good_upcaster)
    truncates = check_upcaster(lambda d: {**good_upcaster(d), "cents": int(d["price"] * 100)})
    assert not truncates and "229.99999999999997" in truncates.message and "round" in truncates.message
    no_currency = check_upcaster(lambda d: {"product": d["product"], "cents": round(d["price"] * 100)})
    assert not no_currency and "exactly the fields product, cents and currency" in no_currency.message
    keeps_price = check_upcaster(lambda d: {**d, "cents": round(d["price"] * 100), "currency": "EUR"})
    assert not keeps_price and "'price'" in keeps_price.message
    assert "returns None" in check_upcaster(lambda d: d.update(cents=1)).message
    float_cents = check_upcaster(lambda d: {**good_upcaster(d), "cents": round(d["price"] * 100, 0)})
    assert "whole number" in float_cents.message
    assert "in euros" in check_upcaster(lambda d: {**good_upcaster(d), "currency": "USD"}).message
    assert check_upcaster(unwritten).message.startswith("the upcaster still raises NotImplementedError")


def test_the_upcaster_check_leaves_no_upcaster_behind():
    before = dict(UPCASTERS)
    check_upcaster(good_upcaster)
    check_upcaster(unwritten)
    assert before == UPCASTERS
    assert check_upcaster(good_upcaster)  # and a second run of the cell gives the same verdict


def good_count_order(con, event):
    con.execute('''INSERT INTO customer_orders VALUES (?, 1, ?)
                   ON CONFLICT (user_id) DO UPDATE SET orders = orders + 1''',
                [event.data["user_id"], event.recorded_at])


def plain_insert(con, event):
    con.execute("INSERT INTO customer_orders VALUES (?, 1, ?)", [event.data["user_id"], event.recorded_at])


def test_projection_check():
    assert check_customer_orders(good_count_order)

    def replaces(con, event):
        con.execute("INSERT OR REPLACE INTO customer_orders VALUES (?, 1, ?)",
                    [event.data["user_id"], event.recorded_at])

    def moves_first_order(con, event):
        con.execute('''INSERT INTO customer_orders VALUES (?, 1, ?) ON CONFLICT (user_id)
                       DO UPDATE SET orders = orders + 1, first_order = excluded.first_order''',
                    [event.data["user_id"], event.recorded_at])

    def wrong_key(con, event):
        con.execute("INSERT INTO customer_orders VALUES (?, 1, ?)", [event.data["user"], event.recorded_at])

    assert "ON CONFLICT" in check_customer_orders(plain_insert).message
    assert "each order adds one" in check_customer_orders(replaces).message
    assert "must not move first_order" in check_customer_orders(moves_first_order).message
    assert "fails at position 1: KeyError" in check_customer_orders(wrong_key).message
    assert check_customer_orders(unwritten).message == (
        "the handler still raises NotImplementedError: replace it with your code")


def good_handle(store, decider, stream_id, command):
    for attempt in range(3):
        stream = store.read(stream_id)
        events = decider.decide(command, eventlab.replay(stream, decider))
        try:
            return store.append(stream_id, events, expected_version=len(stream))
        except ConcurrencyError:
            if attempt == 2:
                raise


def no_retry(store, decider, stream_id, command):
    stream = store.read(stream_id)
    events = decider.decide(command, eventlab.replay(stream, decider))
    return store.append(stream_id, events, expected_version=len(stream))


def test_concurrency_check():
    assert check_handle(good_handle)
    assert check_handle(eventlab.handle)  # the real one does the same

    def no_expected_version(store, decider, stream_id, command):
        stream = store.read(stream_id)
        return store.append(stream_id, decider.decide(command, eventlab.replay(stream, decider)))

    def does_not_decide_again(store, decider, stream_id, command):
        events = decider.decide(command, eventlab.replay(store.read(stream_id), decider))
        for _ in range(3):
            try:
                return store.append(stream_id, events, expected_version=store.stream_version(stream_id))
            except ConcurrencyError:
                pass

    def does_not_read_again(store, decider, stream_id, command):
        stream = store.read(stream_id)
        events = decider.decide(command, eventlab.replay(stream, decider))
        while True:
            try:
                return store.append(stream_id, events, expected_version=len(stream))
            except ConcurrencyError:
                pass

    assert "a ConcurrencyError escaped" in check_handle(no_retry).message
    assert "paid twice" in check_handle(no_expected_version).message
    assert "paid twice" in check_handle(does_not_decide_again).message
    assert "read the stream again" in check_handle(does_not_read_again).message
    assert check_handle(unwritten).message.startswith("my_handle still raises NotImplementedError")


def test_messages_are_plain_text():
    """Verdicts show as text/plain only: Markdown backticks would print literally."""
    shop = practice_shop()
    for verdict in (check_evolve(unwritten), check_decide(unwritten), check_status_at(shop, None),
                    check_status_at(shop, "Placed"), check_paid_per_day(shop, None),
                    check_paid_per_day(shop, "SELECT 1 AS x"), check_upcaster(unwritten),
                    check_upcaster(lambda d: {**good_upcaster(d), "cents": int(d["price"] * 100)}),
                    check_upcaster(lambda d: {"product": d["product"]}), check_upcaster(good_upcaster),
                    check_customer_orders(unwritten), check_customer_orders(plain_insert),
                    check_customer_orders(good_count_order), check_handle(unwritten), check_handle(no_retry),
                    check_handle(good_handle)):
        assert "`" not in repr(verdict)
