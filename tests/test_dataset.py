"""The log as a partitioned Parquet dataset: exported, appended to, checked, and read where it lies."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow.parquet as pq
import pytest

import eventlab
from eventlab.examples import orders, sample
from eventlab.storage import dataset
from eventlab.storage.schema import EVENT_COLUMNS

MOMENTS = [dt.datetime(2024, 3, day, 12, tzinfo=dt.timezone.utc) for day in (3, 6, 11, 25)]


@pytest.fixture(scope="module")
def shop():
    store = sample.demo_store(n_orders=600)
    yield store
    store.close()


@pytest.fixture(scope="module")
def lake(shop, tmp_path_factory):
    return shop.export_parquet(tmp_path_factory.mktemp("lake") / "events", partition_by="day")


def test_the_dataset_is_one_folder_per_day_and_holds_every_column(shop, lake):
    days = sorted(p.name for p in lake.iterdir())
    first, last = shop.rows("SELECT min(recorded_at)::DATE, max(recorded_at)::DATE FROM events")[0]
    assert days[0] == f"day={first}" and days[-1] == f"day={last}"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    back = con.execute(f"SELECT * FROM read_parquet('{lake}/*/*.parquet') ORDER BY position").df()
    assert list(back.columns) == [*EVENT_COLUMNS, "day"]
    original = shop.frame("SELECT * FROM events ORDER BY position")
    assert back["hash"].tolist() == original["hash"].tolist()
    assert back["data"].tolist() == original["data"].astype(str).tolist()
    assert (back["day"] == back["recorded_at"].dt.strftime("%Y-%m-%d")).all()


def test_a_second_export_adds_only_the_new_events(tmp_path):
    store = eventlab.EventStore()
    store.append("order-1", [eventlab.NewEvent("OrderPlaced", {"items": ["a"]})])
    path = store.export_parquet(tmp_path / "lake", partition_by="day")
    files = dataset.files_of(path)
    store.append("order-1", [eventlab.NewEvent("OrderPaid", {"amount": 3})])
    store.export_parquet(path, partition_by="day")
    assert dataset.files_of(path)[:len(files)] == files and len(dataset.files_of(path)) == len(files) + 1
    store.export_parquet(path, partition_by="day")  # nothing new: nothing written
    assert len(dataset.files_of(path)) == len(files) + 1
    assert dataset.verify(path).ok and dataset.verify(path).events_checked == 2
    read_back = eventlab.EventStore.open_dataset(path).read("order-1")
    assert [e.type for e in read_back] == ["OrderPlaced", "OrderPaid"]


def test_a_dataset_of_another_log_is_refused_and_left_as_it_was(shop, lake, tmp_path):
    other = eventlab.EventStore()
    other.append("order-9", [eventlab.NewEvent("OrderPlaced", {"items": []})] * 1)
    before = dataset.files_of(lake)
    with pytest.raises(eventlab.StoreError, match="exported from another log"):
        other.export_parquet(lake, partition_by="day")
    assert dataset.files_of(lake) == before
    with pytest.raises(eventlab.StoreError, match="partitioned by"):
        shop.export_parquet(lake, partition_by="month")
    with pytest.raises(eventlab.UsageError, match="'week'"):
        shop.export_parquet(tmp_path / "x", partition_by="week")


def test_the_check_finds_a_missing_file_and_an_edited_event(shop, tmp_path):
    path = shop.export_parquet(tmp_path / "lake", partition_by="day")
    assert dataset.verify(path).ok
    files = dataset.files_of(path)
    con = duckdb.connect()
    edited = con.sql(f"SELECT * REPLACE (replace(data, 'mug', 'cup') AS data) "
                     f"FROM read_parquet('{files[3]}', hive_partitioning = false)").to_arrow_table()
    pq.write_table(edited, files[3])
    report = dataset.verify(path)
    assert not report.ok and "content" in report.problem
    whole = shop.export_parquet(tmp_path / "lake2", partition_by="day")
    dataset.files_of(whole)[5].unlink()
    report = dataset.verify(whole)
    assert not report.ok and "missing" in report.problem


def test_open_dataset_answers_the_time_travel_questions_as_the_file_does(shop, lake):
    lakeside = eventlab.EventStore.open_dataset(lake)
    assert lakeside.read_only and lakeside.count() == shop.count() and lakeside.verify().ok
    with pytest.raises(eventlab.StoreError, match="read-only"):
        lakeside.append("order-x", [eventlab.NewEvent("OrderPlaced", {})])
    tickets = eventlab.latest_values("order")
    for moment in MOMENTS:
        for method in ("sql", "python"):
            assert eventlab.states_at(lakeside, orders.decider, as_of=moment, method=method).equals(
                eventlab.states_at(shop, orders.decider, as_of=moment, method=method))
        assert eventlab.states_at(lakeside, tickets, as_of=moment).equals(
            eventlab.states_at(shop, tickets, as_of=moment))
        stream = shop.streams("order-")[7]
        assert eventlab.state_at(lakeside, stream, orders.decider, as_of=moment) == \
            eventlab.state_at(shop, stream, orders.decider, as_of=moment)
    assert eventlab.states_at(lakeside, orders.decider, position=1234).equals(
        eventlab.states_at(shop, orders.decider, position=1234))
    stream = shop.streams("order-")[3]
    assert eventlab.history(lakeside, stream, orders.decider).equals(
        eventlab.history(shop, stream, orders.decider))
    assert lakeside.read_all(100, 130) == shop.read_all(100, 130)
    eventlab.sqlmacros.install_macros(lakeside, orders.decider)
    query = "SELECT * FROM order_states_as_of(TIMESTAMPTZ '2024-03-11 12:00:00+00')"
    assert lakeside.sql(query).df().equals(shop.sql(query).df())


def test_an_as_of_question_reads_only_the_files_up_to_its_day(shop, lake):
    lakeside = eventlab.EventStore.open_dataset(lake)
    moment = MOMENTS[1]
    days = {p.parent.name for p in dataset.files_of(lake)}
    needed = {day for day in days if day <= f"day={moment:%Y-%m-%d}"}
    relation = lakeside.events_up_to(as_of=moment)
    plan = lakeside.sql(f"EXPLAIN ANALYZE SELECT count(*) FROM {relation} AS e "
                        f"WHERE recorded_at <= TIMESTAMPTZ '{moment.isoformat()}'").fetchall()[0][1]
    assert f"Total Files Read: {len(needed)}" in plan and len(needed) < len(days)
    assert lakeside.events_up_to() == "events"  # no point: every file


def test_the_sliders_and_the_explorer_show_the_same_over_the_dataset(shop, lake):
    from eventlab.widgets import EventExplorer, StreamSlider, TimeSlider

    lakeside = eventlab.EventStore.open_dataset(lake)
    on_file = TimeSlider(shop, orders.decider, others=[orders.stock_decider])
    on_lake = TimeSlider(lakeside, orders.decider, others=[orders.stock_decider])
    assert on_lake.slider.max == on_file.slider.max
    for position in (1, 777, 2024, shop.head_position):
        on_file.slider.value = on_lake.slider.value = position
        assert on_lake.body.value == on_file.body.value, position
        assert on_lake.state_table.equals(on_file.state_table), position
    stream = shop.streams("order-")[5]
    one_file, one_lake = StreamSlider(shop, stream, decider=orders.decider), \
        StreamSlider(lakeside, stream, decider=orders.decider)
    one_file.slider.value = one_lake.slider.value = one_file.slider.max
    assert one_lake.current.after == one_file.current.after
    explored = EventExplorer(lakeside).table.value
    assert "OrderPlaced" in explored and explored == EventExplorer(shop).table.value
