"""eventlab.spark: the same time travel on Spark (local[2]) as eventlab.states_at gives, on random logs.

Skipped when pyspark or Java is missing, except under CI=true, where they must be there.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab.application import sparksql
from eventlab.examples import orders

pytestmark = pytest.mark.slow
START = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def spark():
    reason = eventlab.spark.unavailable()
    if reason and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the executors cannot import tests/
    session = eventlab.spark.local_session(cores=2, memory="1g")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def evolve_ticket(state: dict, event: eventlab.RecordedEvent) -> dict:
    """A raw decider's fold: counts, the last actor, the total of the amounts."""
    return {"changes": state["changes"] + 1, "by": event.data.get("by", state["by"]),
            "total": state["total"] + event.data.get("amount", 0), "last": event.recorded_at}


tickets = eventlab.Decider({"changes": 0, "by": None, "total": 0, "last": None}, evolve_ticket,
                           name="tickets", category="ticket", raw=True)

order_events = st.one_of(
    st.builds(lambda items: orders.OrderPlaced("", 1, items), st.lists(st.sampled_from("abc"), max_size=3)),
    st.builds(orders.ItemAdded, st.just(""), st.sampled_from("abc")),
    st.builds(orders.ItemRemoved, st.just(""), st.sampled_from("abc")),
    st.builds(lambda amount: orders.OrderPaid("", amount), st.integers(1, 50)),
    st.just(orders.OrderShipped("")), st.just(orders.OrderCancelled("", "no")))
ticket_events = st.builds(
    lambda kind, data: eventlab.NewEvent(kind, data), st.sampled_from(["Opened", "Moved"]),
    st.fixed_dictionaries({}, optional={"by": st.sampled_from(["ann", "bo"]), "amount": st.integers(0, 9),
                                        "note": st.text("xyz", max_size=3)}))
logs = st.lists(st.one_of(st.tuples(st.sampled_from(["order-1", "order-2", "order-3"]), order_events),
                          st.tuples(st.sampled_from(["ticket-1", "ticket-2"]), ticket_events)),
                min_size=1, max_size=25)


def _store(log, gaps) -> eventlab.EventStore:
    moments = iter(START + dt.timedelta(hours=sum(gaps[:i + 1])) for i in range(len(log)))
    store = eventlab.EventStore(clock=lambda: next(moments))
    for stream_id, event in log:
        if hasattr(event, "order_id"):
            event = type(event)(**{**vars(event), "order_id": stream_id.removeprefix("order-")})
        store.append(stream_id, [event])
    return store


def _plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None  # a missing value: NaN, <NA> and None alike
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)  # Spark's TIMESTAMP, in the session's UTC
    return value


def _table(frame) -> tuple[list[str], list[list]]:
    return list(frame.columns), [[_plain(v) for v in row] for row in frame.itertuples(index=False)]


def _missing_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """The values as Python objects, a missing one as None: a column with no value at all ("by") is
    text with NaN from Spark and objects with None from pandas."""
    return frame.astype(object).where(frame.notna(), None)


def _same(spark_frame, expected) -> None:
    assert _table(spark_frame.toPandas()) == _table(expected)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=logs, gaps=st.lists(st.integers(1, 30), min_size=25, max_size=25), cut=st.integers(0, 25),
       data=st.data())
def test_spark_states_at_equals_states_at(spark, tmp_path_factory, log, gaps, cut, data):
    store = _store(log, gaps)
    lake = store.export_parquet(tmp_path_factory.mktemp("lake") / "events", partition_by="day")
    events = eventlab.spark.read_events(spark, str(lake))
    by_time = data.draw(st.booleans())
    point = ({"as_of": START + dt.timedelta(hours=sum(gaps[:cut]))} if by_time else {"position": cut})
    for decider, method in ((orders.decider, "sql"), (orders.decider, "python"), (tickets, "auto"),
                            (eventlab.latest_values("ticket"), "auto")):
        expected = eventlab.states_at(store, decider, **point)
        _same(eventlab.spark.states_at(events, decider, method=method, **point), expected)


def test_history_and_the_event_views_on_spark(spark, tmp_path):
    store = _store([("order-1", orders.OrderPlaced("1", 7, ["a"])),
                    ("ticket-1", eventlab.NewEvent("Opened", {})),
                    ("order-1", orders.ItemAdded("1", "b")), ("order-1", orders.OrderPaid("1", 5))], [30] * 4)
    lake = store.export_parquet(tmp_path / "lake", partition_by="day")
    events = eventlab.spark.read_events(spark, str(lake))
    _same(eventlab.spark.history(events, "order-1", orders.decider),
          eventlab.history(store, "order-1", orders.decider))
    moment = START + dt.timedelta(hours=60)
    kept = eventlab.spark.events_as_of(events, moment).orderBy("position").collect()
    assert [r.position for r in kept] == [r.position for r in store.read_all(until=moment)]
    assert eventlab.spark.events_as_of(events, moment).where("day > '2024-03-03'").count() == 0
    assert [r.version for r in eventlab.spark.stream_at(events, "order-1", 2).collect()] == [1, 2]
    assert eventlab.spark.events_until(events, 3).count() == 3
    for decider in (orders.decider, tickets, eventlab.latest_values("ticket")):  # lists, times, open fields
        collected = eventlab.spark.to_pandas(eventlab.spark.states_at(events, decider))
        assert _missing_as_none(collected).equals(_missing_as_none(eventlab.states_at(store, decider)))


def test_the_state_sql_spark_runs_is_translated_not_copied():
    spark_sql = sparksql.to_spark(orders.STATE_SQL, {"stream_events": "v"})
    assert "FROM v" in spark_sql and "stream_events" not in spark_sql
    assert eventlab.spark.state_sql(orders.decider) == sparksql.to_spark(orders.STATE_SQL)
    with pytest.raises(eventlab.UsageError, match="method='python'"):
        eventlab.spark.state_sql(tickets)
    assert "INLINE(" in spark_sql and "ARRAY_SORT(COLLECT_LIST(" in spark_sql
    assert "json_extract" not in spark_sql


def test_a_dataset_that_is_not_partitioned_is_refused(spark, tmp_path):
    store = _store([("order-1", orders.OrderPlaced("1", 7, ["a"]))], [1])
    one_day = next(store.export_parquet(tmp_path / "lake", partition_by="day").iterdir())  # no day= above
    with pytest.raises(eventlab.UsageError, match="partition_by='day'"):
        eventlab.spark.read_events(spark, str(one_day))
