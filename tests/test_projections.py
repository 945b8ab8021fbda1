"""Projections: read models equal a fresh replay; rebuilds, interruptions and batching change nothing."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab import NewEvent
from eventlab.examples import orders, read_models
from eventlab.projections import (
    Projection,
    ProjectionError,
    Runner,
    catch_up,
    inline,
    lag,
    rebuild,
)

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
LAWS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEP = timedelta(hours=7)  # one command every 7 hours: payments fall on different days


def clock():
    moments = iter(T0 + i * STEP for i in range(10**6))
    return lambda: next(moments)


ORDER_IDS, ITEMS, SKUS = ["1", "2", "3"], ["a", "b", "c"], ["a", "b"]
COMMAND = st.one_of(
    st.builds(orders.PlaceOrder, st.sampled_from(ORDER_IDS), st.integers(1, 2),
              st.lists(st.sampled_from(ITEMS), max_size=3)),
    st.builds(orders.AddItem, st.sampled_from(ORDER_IDS), st.sampled_from(ITEMS)),
    st.builds(orders.RemoveItem, st.sampled_from(ORDER_IDS), st.sampled_from(ITEMS)),
    st.builds(orders.PayOrder, st.sampled_from(ORDER_IDS), st.sampled_from([10, 12.5, 99.99]),
              st.sampled_from(["EUR", "USD"])),
    st.builds(orders.ShipOrder, st.sampled_from(ORDER_IDS)),
    st.builds(orders.CancelOrder, st.sampled_from(ORDER_IDS), st.just("changed my mind")),
    st.builds(orders.ReceiveStock, st.sampled_from(SKUS), st.integers(1, 5)),
    st.builds(orders.ReserveStock, st.sampled_from(SKUS), st.integers(1, 3), st.sampled_from(ORDER_IDS)),
    st.builds(orders.ReleaseStock, st.sampled_from(SKUS), st.integers(1, 3), st.sampled_from(ORDER_IDS)),
)
COMMANDS = st.lists(COMMAND, max_size=25)
EVERY_TYPE = [orders.ReceiveStock("a", 1), orders.PlaceOrder("9", 1, ["a"]), orders.PayOrder("9", 10),
              orders.PlaceOrder("8", 1, ["a"]), orders.CancelOrder("8", "changed my mind")]
"""commands that give every read model events, whatever came before them (order 9 and 8 are new)"""


def send(store: eventlab.EventStore, command: object) -> None:
    """Handle one order or stock command on its stream; a rejected one writes nothing."""
    if isinstance(command, (orders.ReceiveStock, orders.ReserveStock, orders.ReleaseStock)):
        decider, stream_id = orders.stock_decider, orders.stock_stream_id(command.sku)
    else:
        decider, stream_id = orders.decider, orders.stream_id(command.order_id)
    with contextlib.suppress(eventlab.CommandRejected):
        eventlab.handle(store, decider, stream_id, command)


def some_commands(n: int, seed: int) -> list[object]:
    """A deterministic mixed workload: many orders, most of them placed, paid and shipped."""
    rng = random.Random(seed)
    commands = []
    for i in range(n):
        order_id = str(i // 4)
        commands.append([
            orders.PlaceOrder(order_id, rng.randint(1, 5), rng.sample(ITEMS, 2)),
            orders.AddItem(order_id, rng.choice(ITEMS)),
            orders.PayOrder(order_id, rng.choice([10, 12.5])),
            rng.choice([orders.ShipOrder(order_id), orders.CancelOrder(order_id, "no")]),
        ][i % 4])
    return commands


TABLES = {"order_summary": "stream_id", "customers": "user_id", "daily_revenue": "day, currency",
          "product_sales": "item", "stock_levels": "sku"}


def snapshot(store: eventlab.EventStore, names=TABLES) -> dict[str, list[tuple]]:
    """Every read model's rows, in a stable order."""
    return {name: store.sql(f"SELECT * FROM {name} ORDER BY {TABLES[name]}").fetchall() for name in names}


def money(amount: float) -> Decimal:
    return Decimal(str(round(amount, 2)))


def expected(store: eventlab.EventStore) -> dict[str, list[tuple]]:
    """What the read models must say, from a fresh replay (``states_at``) and a plain scan of the log."""
    live = {row["stream_id"]: row for row in
            eventlab.states_at(store, orders.decider).to_dict("records")}
    times: dict[str, dict] = defaultdict(dict)
    revenue: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for event in store.read_all(types=read_models.ORDER_EVENTS):
        at = event.occurred_at or event.recorded_at
        row = times[event.stream_id]
        row["updated_at"], row["version"] = max(row.get("updated_at", at), at), event.version
        row[event.type] = at
        if event.type == "OrderPaid":
            row["currency"] = event.event.currency
            day = revenue[at.astimezone(timezone.utc).date(), event.event.currency]
            day[0], day[1] = day[0] + 1, day[1] + money(event.event.amount)
    summary = [(stream_id, s["order_id"], s["user_id"], s["status"], len(s["items"]), money(s["paid"]),
                times[stream_id].get("currency"), times[stream_id].get("OrderPlaced"),
                times[stream_id].get("OrderPaid"), times[stream_id].get("OrderShipped"),
                times[stream_id].get("OrderCancelled"), times[stream_id]["updated_at"],
                times[stream_id]["version"])
               for stream_id, s in sorted(live.items())]
    customers: dict[int, list] = {}
    for row in summary:
        user = customers.setdefault(row[2], [row[2], 0, 0, Decimal(0), row[11]])
        user[1] += 1
        user[2] += row[3] in ("Placed", "Paid")
        user[3] += row[5] if row[3] != "Cancelled" else 0
        user[4] = max(user[4], row[11])
    units, holders = Counter(), Counter()
    for state in live.values():
        if state["status"] in ("Paid", "Shipped"):
            units.update(state["items"])
            holders.update(set(state["items"]))
    stock = eventlab.states_at(store, orders.stock_decider).to_dict("records")
    return {
        "order_summary": summary,
        "customers": [tuple(customers[user]) for user in sorted(customers)],
        "daily_revenue": [(*day, n, total) for day, (n, total) in sorted(revenue.items())],
        "product_sales": [(item, units[item], holders[item]) for item in sorted(units)],
        "stock_levels": [(s["sku"], s["on_hand"], s["reserved"], s["on_hand"] - s["reserved"])
                         for s in sorted(stock, key=lambda s: s["sku"])],
    }


def failing_at(projection: Projection, position: int) -> Projection:
    """The same projection, except that both its SQL and its handlers fail on the event at ``position``."""
    def fail_there(handler):
        def run(con, event):
            if event.position == position:
                raise RuntimeError("boom")
            handler(con, event)
        return run

    return dataclasses.replace(
        projection,
        sql=f"SELECT error('boom at ' || position) FROM batch WHERE position = {position};\n{projection.sql}",
        handlers={name: fail_there(handler) for name, handler in projection.handlers.items()})


@pytest.fixture
def shop():
    """The seed order 123 (placed, item added, paid, shipped) and order 7 placed in between."""
    with eventlab.EventStore(clock=clock()) as store:
        store.append("order-123", [orders.OrderPlaced("123", 1, ["a", "b"])], 0)
        store.append("order-7", [orders.OrderPlaced("7", 2, ["z"])], 0)
        store.append("order-123", [orders.ItemAdded("123", "c"), orders.OrderPaid("123", 100)], 1)
        store.append("order-123", [orders.OrderShipped("123")], 3)
        yield store


# --- the laws --------------------------------------------------------------------------------


@LAWS
@given(commands=COMMANDS, cuts=st.sets(st.integers(0, 25), max_size=3),
       batch_size=st.sampled_from([1, 2, 7, None]))
def test_after_catch_up_every_read_model_equals_a_fresh_replay(commands, cuts, batch_size):
    with eventlab.EventStore(clock=clock()) as store:
        for i, command in enumerate(commands):
            if i in cuts:
                catch_up(store, read_models.ALL, batch_size=batch_size)
            send(store, command)
        catch_up(store, read_models.ALL, batch_size=batch_size)
        assert snapshot(store) == expected(store)


@LAWS
@given(commands=COMMANDS, cut=st.integers(0, 25))
def test_a_rebuild_and_the_python_handlers_build_identical_tables(commands, cut):
    with eventlab.EventStore(clock=clock()) as store:
        for i, command in enumerate(commands):
            if i == cut:
                catch_up(store, read_models.ALL)
            send(store, command)
        catch_up(store, read_models.ALL)
        before = snapshot(store)
        for projection in read_models.ALL:
            rebuild(store, projection)
        assert snapshot(store) == before
        rebuild(store, read_models.order_summary, method="python", batch_size=3)
        assert snapshot(store) == before


@LAWS
@given(commands=COMMANDS, data=st.data())
def test_a_projection_interrupted_at_a_random_event_resumes_to_identical_tables(commands, data):
    projection = data.draw(st.sampled_from(read_models.ALL), label="projection")
    method = data.draw(st.sampled_from(["sql", "python"] if projection.handlers else ["sql"]), label="method")
    with eventlab.EventStore(clock=clock()) as store:
        for command in [*commands, *EVERY_TYPE]:  # so that every projection has events to fail on
            send(store, command)
        positions = [e.position for e in store.read_all(types=projection.types)]
        position = data.draw(st.sampled_from(positions), label="position")
        batch_size = data.draw(st.sampled_from([1, 4, None]), label="batch_size")
        with pytest.raises(ProjectionError) as failure:
            catch_up(store, failing_at(projection, position), batch_size=batch_size, method=method)
        assert failure.value.position == position
        assert lag(store, projection)["position"].tolist() == [position - 1]
        catch_up(store, projection, method=method)  # fixed: it resumes from the event that failed
        resumed = snapshot(store, projection.tables)
        rebuild(store, projection)
        assert snapshot(store, projection.tables) == resumed


# --- failures, lag, inline, rebuild ----------------------------------------------------------


def test_a_failure_message_reads_as_sentences_whatever_the_cause_ends_with(shop):
    for cause in ("boom", "boom."):
        failing_sql = f"SELECT error('{cause}') FROM batch;\n{read_models.order_summary.sql}"
        broken = dataclasses.replace(read_models.order_summary, sql=failing_sql)
        with pytest.raises(ProjectionError) as failure:
            rebuild(shop, broken)
        assert "boom. The rebuild did not start" in str(failure.value), str(failure.value)


def test_a_failing_projection_names_itself_the_position_and_the_event_and_resumes_once_fixed(shop):
    broken = failing_at(read_models.order_summary, 4)
    with pytest.raises(ProjectionError, match=r"projection 'order_summary' failed at position 4 on OrderPaid "
                                              r"in stream 'order-123' \(version 3\): .*boom") as failure:
        catch_up(shop, [broken, read_models.daily_revenue])
    assert (failure.value.projection, failure.value.event.type) == ("order_summary", "OrderPaid")
    state = lag(shop, [read_models.order_summary, read_models.daily_revenue])
    assert state["position"].tolist() == [3, 5]  # the other projection went on to the head
    assert "failed at position 4" in state["error"][0] and state["error"].isna().tolist() == [False, True]
    assert [row[4] for row in snapshot(shop, ["order_summary"])["order_summary"]] == [3, 1]  # item counts

    catch_up(shop, read_models.ALL)
    assert lag(shop, read_models.order_summary)["error"].isna().all()
    assert snapshot(shop) == expected(shop)


def test_a_broken_sql_definition_is_reported_on_the_first_event_it_cannot_apply(shop):
    typo = dataclasses.replace(read_models.daily_revenue, sql="INSERT INTO daily_revenue SELECT nonsense")
    with pytest.raises(ProjectionError, match="position 1 on OrderPlaced.*nonsense"):
        catch_up(shop, typo)


def test_lag_counts_the_events_and_the_seconds_a_read_model_is_behind(shop):
    before = lag(shop, read_models.ALL)
    assert before["events_behind"].tolist() == [5] * 4
    assert before["seconds_behind"].tolist() == [3 * STEP.total_seconds()] * 4  # first to last append
    catch_up(shop, read_models.ALL)
    shop.append("order-7", [orders.ItemAdded("7", "y")], 1)
    shop.append("order-7", [orders.ItemAdded("7", "x")], 2)
    after = lag(shop, [read_models.order_summary])
    assert after[["position", "head", "events_behind"]].values.tolist() == [[5, 7, 2]]
    assert after["as_of"][0] == T0 + 3 * STEP  # the read model shows the log as it stood then
    assert after["seconds_behind"][0] == 2 * STEP.total_seconds()
    assert lag(shop)["projection"].tolist() == sorted(p.name for p in read_models.ALL)


def test_a_rebuild_starts_from_scratch_and_readers_see_the_old_table_until_it_commits(shop):
    catch_up(shop, read_models.ALL)
    shop.sql("DELETE FROM order_summary")  # damage the read model; the log still knows everything
    report = rebuild(shop, read_models.order_summary)
    assert report[["from_position", "to_position", "events"]].values.tolist() == [[1, 5, 5]]
    assert snapshot(shop) == expected(shop)


def test_a_rebuild_that_fails_at_once_leaves_the_old_read_model_as_it_was(shop):
    catch_up(shop, read_models.ALL)
    before = snapshot(shop)
    with pytest.raises(ProjectionError, match="rebuild did not start"):
        rebuild(shop, failing_at(read_models.order_summary, 1))
    assert snapshot(shop) == before
    assert lag(shop, read_models.order_summary)["position"].tolist() == [5]
    with pytest.raises(ProjectionError, match="committed up to position 3"):
        rebuild(shop, failing_at(read_models.order_summary, 4))
    catch_up(shop, read_models.order_summary)  # resumes the rebuild where it stopped
    assert snapshot(shop) == before


def test_times_come_from_occurred_at_and_old_payments_without_currency_count_as_euros():
    with eventlab.EventStore(clock=clock()) as store:
        store.append("order-1", [orders.OrderPlaced("1", 1, ["a"])])
        late = T0 - timedelta(days=3)
        store.append("order-1", [NewEvent("OrderPaid", {"order_id": "1", "amount": 20}, occurred_at=late,
                                          schema_version=1)])
        catch_up(store, read_models.ALL)
        assert store.sql("SELECT day, currency, revenue FROM daily_revenue").fetchall() == [
            (late.date(), "EUR", Decimal("20.00"))]
        paid_at, currency = store.sql("SELECT paid_at, currency FROM order_summary").fetchall()[0]
        assert (paid_at, currency) == (late, "EUR")
        assert snapshot(store) == expected(store)


def test_an_inline_projection_commits_with_the_append_and_is_never_behind(shop):
    with inline(shop, [read_models.order_summary]):
        eventlab.handle(shop, orders.decider, "order-7", orders.AddItem("7", "y"))
    assert lag(shop, read_models.order_summary)["events_behind"].tolist() == [0]
    assert snapshot(shop, ["order_summary"]) == {"order_summary": expected(shop)["order_summary"]}


def test_a_failing_inline_projection_fails_the_write_and_writes_nothing(shop):
    catch_up(shop, read_models.order_summary)
    broken = failing_at(read_models.order_summary, 6)
    with pytest.raises(ProjectionError, match="inline projection 'order_summary' failed"), \
            inline(shop, [broken], method="python"):
        eventlab.handle(shop, orders.decider, "order-7", orders.AddItem("7", "y"))
    assert (shop.count(), shop.stream_version("order-7")) == (5, 1)
    shop.append("order-7", [orders.ItemAdded("7", "y")], expected_version=1)  # the store carries on
    assert shop.count() == 6


def test_inline_refuses_to_run_inside_a_unit_of_work(shop):
    with shop.unit_of_work(), pytest.raises(eventlab.StoreError, match="inside a unit_of_work"), \
            inline(shop, read_models.order_summary):
        pass


def test_projections_are_checked_when_defined():
    with pytest.raises(eventlab.UsageError, match="needs sql=..., handlers=..."):
        Projection("empty", types=("OrderPlaced",), setup="", tables=())
    with pytest.raises(eventlab.UsageError, match=r"handlers for \['OrderPaid'\]"):
        Projection("p", types=("OrderPlaced",), setup="", tables=(), handlers={"OrderPaid": print})
    with pytest.raises(eventlab.UsageError, match=r"write \['OrderPlaced'\]"):
        Projection("p", types="OrderPlaced", setup="", tables=(), sql="SELECT 1")
    with pytest.raises(eventlab.UsageError, match="has no handlers"):
        catch_up(eventlab.EventStore(), read_models.daily_revenue, method="python")


def test_read_models_live_in_the_store_file_and_survive_a_reopen(tmp_path):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path, clock=clock()) as store:
        for command in some_commands(12, seed=1):
            send(store, command)
        catch_up(store, read_models.ALL)
        before = snapshot(store)
    with eventlab.EventStore(path) as store:
        assert snapshot(store) == before
        assert lag(store, read_models.ALL)["events_behind"].tolist() == [0] * 4
    with eventlab.EventStore(path, read_only=True) as store:
        with pytest.raises(eventlab.StoreError, match="read-only"):
            catch_up(store, read_models.ALL)
        assert snapshot(store) == before  # a read-only store still serves its read models


# --- the background runner -------------------------------------------------------------------


def test_the_runner_follows_commands_in_the_background_and_stops_cleanly():
    with eventlab.EventStore(clock=clock()) as store:
        with Runner(store, read_models.ALL, interval=0.005, batch_size=7) as runner:
            for command in some_commands(60, seed=2):
                send(store, command)
            assert runner.wait(timeout=30)
            assert runner.lag()["events_behind"].tolist() == [0] * 4
        assert not runner.running
        assert snapshot(store) == expected(store)


def test_the_runner_keeps_the_others_going_while_one_fails_or_is_rebuilt():
    release = threading.Event()

    def count_placed(con, event):
        if threading.current_thread().name == "rebuild":
            release.wait(10)  # a long rebuild
        con.execute("INSERT INTO placed VALUES (?)", [event.stream_id])

    placed = Projection("placed", types=("OrderPlaced",), tables=("placed",),
                        setup="CREATE TABLE IF NOT EXISTS placed (s VARCHAR)",
                        handlers={"OrderPlaced": count_placed})
    with eventlab.EventStore(clock=clock()) as store:
        for command in some_commands(8, seed=3):
            send(store, command)
        broken = failing_at(read_models.order_summary, 3)
        with Runner(store, [broken, read_models.daily_revenue, placed], interval=0.005) as runner:
            assert runner.wait(timeout=30)
            assert list(runner.errors) == ["order_summary"] and runner.errors["order_summary"].position == 3
            runner.resume(read_models.order_summary)
            assert runner.wait(timeout=30) and not runner.errors

            rebuilding = threading.Thread(target=runner.rebuild, args=("placed",), name="rebuild")
            rebuilding.start()
            for command in some_commands(16, seed=4)[8:]:
                send(store, command)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                behind = runner.lag().set_index("projection")["events_behind"]
                if behind["order_summary"] == behind["daily_revenue"] == 0:
                    break
                time.sleep(0.01)
            assert behind["order_summary"] == behind["daily_revenue"] == 0 and behind["placed"] > 0
            assert rebuilding.is_alive()
            release.set()
            rebuilding.join(10)
            assert runner.wait(timeout=30)
        assert store.sql("SELECT count(*) FROM placed").fetchall() == [(4,)]
        assert snapshot(store, ["order_summary"]) == {"order_summary": expected(store)["order_summary"]}
