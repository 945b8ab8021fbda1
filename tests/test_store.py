"""The event store: appends, reads, concurrency, idempotency, errors, files and tampering."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import eventlab
from eventlab import NewEvent
from eventlab.events import event_type


@event_type("TestThingHappened")
@dataclass(frozen=True)
class ThingHappened:
    thing_id: str
    size: int


def ticking_clock(start=datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc), step=timedelta(seconds=1)):
    moments = iter(start + i * step for i in range(10**9))
    return lambda: next(moments)


@pytest.fixture
def store():
    with eventlab.EventStore(clock=ticking_clock()) as s:
        yield s


def test_append_assigns_versions_positions_and_time(store):
    first = store.append("order-1", [NewEvent("Placed", {"n": 1}), NewEvent("Paid", {"n": 2})], 0)
    second = store.append("order-2", [NewEvent("Placed", {"n": 3})], "no stream")
    third = store.append("order-1", [NewEvent("Shipped")], expected_version=2)
    assert [(r.stream_id, r.version, r.position) for r in first + second + third] == [
        ("order-1", 1, 1), ("order-1", 2, 2), ("order-2", 1, 3), ("order-1", 3, 4)]
    assert first[0].recorded_at == datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
    assert third[0].recorded_at.tzinfo is not None
    assert [r.type for r in store.read("order-1")] == ["Placed", "Paid", "Shipped"]
    assert store.read("order-1") == first + third
    assert store.stream_version("order-1") == 3
    assert store.stream_version("order-9") == 0


def test_read_ranges_and_read_all_filters(store):
    for i in range(5):
        store.append(f"s-{i % 2}", [NewEvent("Even" if i % 2 == 0 else "Odd", {"i": i})])
    assert [r.version for r in store.read("s-0", from_version=2)] == [2, 3]
    assert [r.version for r in store.read("s-0", to_version=2)] == [1, 2]
    assert [r.position for r in store.read_all(from_position=3)] == [3, 4, 5]
    assert [r.position for r in store.read_all(to_position=2)] == [1, 2]
    assert [r.data["i"] for r in store.read_all(types=["Odd"])] == [1, 3]
    until = store.read_all()[1].recorded_at
    assert [r.position for r in store.read_all(until=until)] == [1, 2]
    assert list(store.read_all_df()["position"]) == [1, 2, 3, 4, 5]
    assert list(store.read_df("s-1")["version"]) == [1, 2]
    assert store.streams() == ["s-0", "s-1"]
    assert store.streams(prefix="s-1") == ["s-1"]
    assert store.count() == 5 and store.count("s-0") == 3
    assert dict(zip(store.counts_df()["type"], store.counts_df()["events"])) == {"Even": 3, "Odd": 2}
    assert list(store.streams_df()["version"]) == [3, 2]
    assert store.head_position == 5


def test_stale_expected_version_raises_and_writes_nothing(store):
    store.append("order-1", [NewEvent("Placed")], 0)
    with pytest.raises(eventlab.ConcurrencyError) as info:
        store.append("order-1", [NewEvent("Paid"), NewEvent("Shipped")], expected_version=0)
    assert info.value.expected == 0 and info.value.actual == 1
    assert "expected 0" in str(info.value) and "version 1" in str(info.value)
    with pytest.raises(eventlab.ConcurrencyError):
        store.append("order-2", [NewEvent("Paid")], expected_version=3)
    with pytest.raises(eventlab.ConcurrencyError):
        store.append("order-1", [NewEvent("Placed")], expected_version="no stream")
    assert store.count() == 1
    assert store.append("order-1", [NewEvent("Paid")], expected_version="any")[0].version == 2


def test_typed_events_round_trip_under_their_stable_name(store):
    recorded = store.append("thing-1", [ThingHappened("1", 3)], 0)
    assert recorded[0].type == "TestThingHappened"
    assert recorded[0].data == {"thing_id": "1", "size": 3}
    assert store.read("thing-1")[0].event == ThingHappened("1", 3)
    assert store.append("x", [NewEvent("NobodyKnowsMe", {"a": 1})])[0].event is None


def test_reappending_the_same_event_ids_is_idempotent(store):
    event_id = uuid.uuid4()
    first = store.append("order-1", [NewEvent("Placed", {"a": 1}, event_id=event_id)], 0)
    again = store.append("order-1", [NewEvent("Placed", {"a": 1}, event_id=event_id)], 0)
    assert again == first and store.count() == 1
    # a RecordedEvent appended again (e.g. copied from another store) keeps its id, so is a no-op too
    assert store.append("order-1", first) == first and store.count() == 1
    with pytest.raises(eventlab.InvalidEventError, match="stream 'order-1'"):
        store.append("order-2", first)
    with pytest.raises(eventlab.InvalidEventError, match="stored already"):
        store.append("order-1", [first[0], NewEvent("Paid", event_id=uuid.uuid4())])
    assert store.count() == 1


def test_metadata_is_stored_with_each_event(store):
    recorded = store.append("o-1", [NewEvent("Placed", metadata={"actor": "ann"}), NewEvent("Paid")],
                            metadata={"correlation_id": "c-1", "actor": "bob"})
    assert recorded[0].metadata == {"correlation_id": "c-1", "actor": "ann"}
    assert store.read("o-1")[1].metadata == {"correlation_id": "c-1", "actor": "bob"}


def test_occurred_at_is_business_time_next_to_recorded_time(store):
    monday = datetime(2024, 5, 27, 17, 30, tzinfo=timezone(timedelta(hours=2)))
    recorded = store.append("o-1", [NewEvent("Paid", occurred_at=monday)])
    assert store.read("o-1")[0].occurred_at == monday == recorded[0].occurred_at


def test_recorded_time_never_goes_backwards_even_if_the_clock_does():
    moments = iter([datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 1, tzinfo=timezone.utc)])
    with eventlab.EventStore(clock=lambda: next(moments)) as store:
        store.append("a", [NewEvent("X")])
        store.append("a", [NewEvent("Y")])
        times = [r.recorded_at for r in store.read("a")]
    assert times == [datetime(2024, 1, 2, tzinfo=timezone.utc)] * 2


@pytest.mark.parametrize("bad_events, message", [
    ([NewEvent("X", {"v": float("nan")})], "JSON cannot store"),
    ([NewEvent("X", {"v": b"bytes"})], "bytes"),
    ([NewEvent("X", {"v": {1, 2}})], "set"),
    ([NewEvent("X", {"v": object()})], "object"),
    ([NewEvent("X", {1: "int key"})], "keys must be strings"),
    ([NewEvent("X", {"when": datetime(2024, 1, 1)})], "isoformat"),
    ([NewEvent("", {})], "non-empty string"),
    ([NewEvent("X\n", {})], "control character"),
    ([NewEvent("X", {"s": "\ud800"})], "surrogate"),
    ([NewEvent("X", occurred_at=datetime(2024, 1, 1))], "no time zone"),
    ([NewEvent("X", event_id="not-a-uuid")], "not a UUID"),
    (NewEvent("X"), "list of events"),
    (["just a string"], "dataclass event"),
])
def test_bad_events_are_refused_with_a_clear_error_and_nothing_written(store, bad_events, message):
    store.append("s", [NewEvent("Before")])
    with pytest.raises(eventlab.EventLabError, match=message):
        store.append("s", [NewEvent("Fine")] + bad_events if isinstance(bad_events, list) else bad_events)
    assert store.count() == 1


@pytest.mark.parametrize("stream_id", ["", "   ", None, 42, "a\x00b"])
def test_bad_stream_ids_are_refused(store, stream_id):
    with pytest.raises(eventlab.InvalidEventError, match="stream_id"):
        store.append(stream_id, [NewEvent("X")])
    assert store.count() == 0


@pytest.mark.parametrize("expected", [-1, 1.5, "latest", True, None])
def test_bad_expected_versions_are_refused(store, expected):
    with pytest.raises(eventlab.InvalidEventError, match="expected_version"):
        store.append("s", [NewEvent("X")], expected_version=expected)


def test_a_naive_clock_is_refused():
    with eventlab.EventStore(clock=lambda: datetime(2024, 1, 1)) as store:
        with pytest.raises(eventlab.InvalidEventError, match="timezone-aware"):
            store.append("s", [NewEvent("X")])
        assert store.count() == 0


def test_unit_of_work_commits_all_together_and_sees_its_own_appends(store):
    with store.unit_of_work():
        for i in range(100):
            store.append(f"order-{i}", [NewEvent("Placed", {"i": i})], expected_version=0)
            store.append(f"order-{i}", [NewEvent("Paid")], expected_version=1)
        assert store.stream_version("order-7") == 2
        assert [r.type for r in store.read("order-7")] == ["Placed", "Paid"]
        assert store.sql("SELECT count(*) FROM events").fetchall() == [(0,)]
        with pytest.raises(eventlab.ConcurrencyError):
            store.append("order-7", [NewEvent("Again")], expected_version=0)
    assert store.count() == 200
    assert [r.position for r in store.read_all()] == list(range(1, 201))
    assert store.verify().ok


def test_unit_of_work_writes_nothing_when_it_fails(store):
    store.append("order-1", [NewEvent("Placed")], 0)
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.append("order-1", [NewEvent("Paid")], 1)
        store.append("order-2", [NewEvent("Placed")], 0)
        raise RuntimeError("boom")
    assert store.count() == 1
    assert store.stream_version("order-1") == 1
    assert store.append("order-2", [NewEvent("Placed")], 0)[0].position == 2


def test_a_second_connection_writing_is_caught_by_the_version_constraint(tmp_path):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as one, eventlab.EventStore(path) as two:
        one.append("order-1", [NewEvent("Placed")], 0)
        two.append("order-1", [NewEvent("Paid")], 1)  # `one` does not know about this write
        with pytest.raises(eventlab.ConcurrencyError):
            one.append("order-1", [NewEvent("Shipped")], 1)
        assert one.append("order-1", [NewEvent("Shipped")], 2)[0].position == 3
        assert one.verify().ok


def test_verify_finds_edits_deletes_and_swaps(store):
    for i in range(20):
        store.append(f"s-{i % 3}", [NewEvent("X", {"i": i})])
    assert store.verify().ok and store.verify().events_checked == 20
    store.sql("UPDATE events SET data = '{\"i\": 999}' WHERE position = 11")
    report = store.verify()
    assert not report.ok and report.first_bad_position == 11 and "content" in report.problem


@pytest.mark.parametrize("tamper, position", [
    ("DELETE FROM events WHERE position = 6", 6),
    ("UPDATE events SET position = CASE position WHEN 4 THEN 9 ELSE 4 END WHERE position IN (4, 9)", 4),
    ("UPDATE events SET recorded_at = recorded_at + INTERVAL 1 HOUR WHERE position = 13", 13),
    ("UPDATE events SET stream_id = 's-x' WHERE position = 2", 2),
    ("UPDATE events SET hash = md5('x') || md5('y') WHERE position = 20", 20),
])
def test_verify_points_at_the_tampered_position(store, tamper, position):
    for i in range(20):
        store.append(f"s-{i % 3}", [NewEvent("X", {"i": i})])
    store.sql(tamper)
    assert store.verify().first_bad_position == position


def test_file_store_persists_and_reopens_read_only(tmp_path):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as store:
        store.append("order-1", [NewEvent("Placed", {"items": ["a"]})], 0)
    with eventlab.EventStore(path, read_only=True) as reader:
        assert reader.read("order-1")[0].data == {"items": ["a"]}
        assert reader.stream_version("order-1") == 1
        with pytest.raises(eventlab.StoreError, match="read-only"):
            reader.append("order-1", [NewEvent("Paid")])
    with eventlab.EventStore(path) as store:
        assert store.append("order-1", [NewEvent("Paid")], 1)[0].position == 2
        assert store.verify().ok


def test_a_file_held_by_another_process_gives_a_clear_error(tmp_path):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path):
        code = f"import eventlab; eventlab.EventStore({str(path)!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "StoreLockedError" in result.stderr
    assert "is open in process" in result.stderr and "read_only=True" in result.stderr


def test_files_that_are_not_stores_are_refused_untouched(tmp_path):
    text = tmp_path / "notes.duckdb"
    text.write_text("hello, not a database")
    with pytest.raises(eventlab.NotAnEventStoreError, match="not a DuckDB database"):
        eventlab.EventStore(text)
    assert text.read_text() == "hello, not a database"
    import duckdb

    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE customers (id INT)")
    with pytest.raises(eventlab.NotAnEventStoreError, match="customers"):
        eventlab.EventStore(other)
    with pytest.raises(eventlab.StoreError, match="no store file"):
        eventlab.EventStore(tmp_path / "missing.duckdb", read_only=True)


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    with eventlab.EventStore(path) as store:
        store.sql("UPDATE eventlab_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(eventlab.SchemaVersionError, match="newer eventlab"):
        eventlab.EventStore(path)


def test_the_store_file_opens_in_the_duckdb_command_line_client(tmp_path):
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent)) or shutil.which("duckdb")
    if cli is None:
        pytest.skip("the duckdb command-line client (pip install duckdb-cli) is not installed")
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as store:
        store.append("order-1", [NewEvent("Placed", {"items": ["a", "b"]})], 0)
    result = subprocess.run([cli, "-csv", str(path), "-c", "SELECT stream_id, type, data FROM events"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'order-1,Placed,"{""items"":[""a"",""b""]}"' in result.stdout


@pytest.mark.parametrize("damage", [
    lambda data: data[:100],                                   # truncated in the header
    lambda data: data[:8192] + b"\0" * 8192 + data[16384:],    # a zeroed block
])
def test_a_damaged_store_file_gives_a_clear_error(tmp_path, damage):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as store:
        for i in range(50):
            store.append(f"s-{i}", [NewEvent("X", {"i": i})])
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(eventlab.StoreError, match="damaged"):
        eventlab.EventStore(path)


def test_a_ticking_clock_and_seeded_ids_make_the_log_repeat_byte_for_byte():
    from eventlab.determinism import seeded_ids, ticking_clock

    def build():
        store = eventlab.EventStore(clock=ticking_clock(), ids=seeded_ids(7))
        store.append("order-1", [NewEvent("Placed", {"items": ["a"]}), NewEvent("Paid")])
        store.append("order-2", [NewEvent("Placed")])
        return store.sql("SELECT * FROM events ORDER BY position").fetchall()

    first, second = build(), build()
    assert first == second
    assert len({row[7] for row in first}) == 3  # the ids differ from each other


SCHEMA_1_EVENTS = """
CREATE TABLE events (
    position BIGINT NOT NULL PRIMARY KEY, stream_id VARCHAR NOT NULL, version BIGINT NOT NULL,
    type VARCHAR NOT NULL, data JSON NOT NULL, metadata JSON NOT NULL, schema_version INTEGER NOT NULL,
    event_id UUID NOT NULL UNIQUE, occurred_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ NOT NULL,
    prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL, UNIQUE (stream_id, version));
CREATE INDEX events_stream_id ON events (stream_id);
CREATE TABLE eventlab_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
INSERT INTO eventlab_meta VALUES ('schema_version', '1'), ('created_by', 'eventlab');
"""
"""A store file as eventlab wrote it before schema 2 (its table exactly as it was then)."""


def test_a_schema_1_file_with_its_unique_indexes_still_reads_appends_imports_and_verifies(tmp_path):
    import duckdb
    import pandas as pd

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_1_EVENTS)
    con.close()
    with eventlab.EventStore(path) as store:
        store.append("order-1", [NewEvent("Placed")], 0)
        with store.unit_of_work():
            store.append("order-1", [NewEvent("Paid")], 1)
            store.append("order-2", [NewEvent("Placed")], 0)
        t = store.read_all()[-1].recorded_at
        store.import_events(pd.DataFrame({"stream_id": ["order-2", "order-3"], "type": ["Paid", "Placed"],
                                          "data": ["{}", "{}"], "recorded_at": [t, t]}))
        assert [(r.stream_id, r.version) for r in store.read_all()] == [
            ("order-1", 1), ("order-1", 2), ("order-2", 1), ("order-2", 2), ("order-3", 1)]
        assert store.verify().ok
    with eventlab.EventStore(path, read_only=True) as store:
        assert store.count() == 5 and store.sql(
            "SELECT value FROM eventlab_meta WHERE key = 'schema_version'").fetchall() == [("1",)]


def test_a_stale_store_appending_at_any_version_gets_the_next_version_not_a_duplicate(tmp_path):
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as one, eventlab.EventStore(path) as two:
        one.append("order-1", [NewEvent("Placed")])
        two.append("order-1", [NewEvent("Paid")])  # `one` does not know about this write
        assert one.append("order-1", [NewEvent("Shipped")])[0].version == 3  # its position was taken
        with one.unit_of_work():
            one.append("order-1", [NewEvent("Noted")])
        with two.unit_of_work():  # two's cache is stale now: the unit starts from the log
            assert two.append("order-1", [NewEvent("Noted")])[0].version == 5
        assert [(r.position, r.version) for r in one.read("order-1")] == [(i, i) for i in range(1, 6)]
        assert one.verify().ok


def test_ids_a_seeded_function_repeats_over_one_file_are_refused_and_nothing_is_written(tmp_path):
    from eventlab.determinism import seeded_ids

    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path, ids=seeded_ids(7)) as store:
        first = store.append("order-1", [NewEvent("Placed")])[0]
    refused = pytest.raises(eventlab.StoreError, match=f"{first.event_id}, stored already at position 1")
    with eventlab.EventStore(path, ids=seeded_ids(7)) as store, refused:  # the same seed, the same ids again
        store.append("order-2", [NewEvent("Placed")])
    with eventlab.EventStore(path, ids=seeded_ids(7)) as store:
        with pytest.raises(eventlab.StoreError, match="each run its own seed"), store.unit_of_work():
            store.append("order-3", [NewEvent("Placed")])
            store.append("order-4", [NewEvent("Placed")])
        assert store.count() == 1 and store.stream_version("order-3") == 0
    with eventlab.EventStore(path, ids=seeded_ids(8)) as store:
        assert store.append("order-2", [NewEvent("Placed")])[0].position == 2
        assert store.verify().ok


def test_a_stream_of_hundreds_of_events_is_scanned_and_a_short_one_fetched_by_its_index(tmp_path):
    """Fetching a row by the stream index costs ~25 us here; past a few hundred rows a scan of the
    column is cheaper (schema.INDEX_SCAN_ROWS). DuckDB's own cut-off is 2,048 rows."""
    import pandas as pd

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    streams = ["order-long"] * 300 + ["order-short"] * 10 + [f"order-{i}" for i in range(1_690)]
    with eventlab.EventStore(tmp_path / "shop.duckdb") as store:
        store.import_events(pd.DataFrame({
            "stream_id": streams, "type": "ItemAdded", "data": "{}",
            "recorded_at": [start + timedelta(seconds=i) for i in range(len(streams))]}))

        def how_read(stream_id: str) -> str:
            plan = store.rows("EXPLAIN ANALYZE SELECT position FROM events WHERE stream_id = ?", [stream_id])
            return next(line for line in plan[0][1].splitlines() if "Type:" in line).split(":")[1].strip(" │")

        assert how_read("order-short") == "Index Scan"
        assert how_read("order-long") == "Sequential Scan"
        assert len(store.read("order-long")) == 300
