"""Bulk import and Parquet export."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import eventlab
from eventlab import NewEvent

T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)


def frame(n=5, start=T0, streams=2, **extra):
    return pd.DataFrame({
        "stream_id": [f"order-{i % streams}" for i in range(n)],
        "type": ["ItemAdded"] * n,
        "data": [f'{{"item": "sku-{i}"}}' for i in range(n)],
        "recorded_at": [start + timedelta(minutes=i) for i in range(n)],
        **extra,
    })


def test_import_keeps_timestamps_and_numbers_positions_and_versions():
    with eventlab.EventStore(clock=lambda: T0) as store:
        store.append("order-0", [NewEvent("OrderPlaced")])
        report = store.import_events(frame(start=T0 + timedelta(hours=1)))
        assert (report.imported, report.skipped, report.first_position, report.last_position) == (5, 0, 2, 6)
        log = store.read_all()
        assert [r.position for r in log] == [1, 2, 3, 4, 5, 6]
        assert [r.version for r in store.read("order-0")] == [1, 2, 3, 4]
        assert [r.version for r in store.read("order-1")] == [1, 2]
        assert log[1].recorded_at == T0 + timedelta(hours=1)
        assert log[2].data == {"item": "sku-1"}
        assert store.verify().ok
        # appends continue the chain, versions and positions after an import
        assert store.append("order-1", [NewEvent("OrderPaid")], 2)[0].position == 7
        assert store.verify().ok


def test_dict_payloads_metadata_and_optional_columns_are_taken():
    ids = [str(uuid.uuid4()) for _ in range(3)]
    source = frame(3, data=[{"a": 1}, {"b": [1, 2]}, {}], metadata=[{"src": "legacy"}] * 3,
                   event_id=ids, occurred_at=[T0 - timedelta(days=1)] * 3, schema_version=[1, 2, 1])
    with eventlab.EventStore() as store:
        store.import_events(source)
        first = store.read("order-0")[0]
        assert first.data == {"a": 1} and first.metadata == {"src": "legacy"}
        assert str(first.event_id) == ids[0] and first.occurred_at == T0 - timedelta(days=1)
        assert store.read("order-1")[0].schema_version == 2


def test_export_then_import_reproduces_the_log_and_its_chain(tmp_path):
    with eventlab.EventStore(clock=lambda: T0) as store:
        store.append("order-1", [NewEvent("OrderPlaced", {"items": ["a"]}, metadata={"actor": "ann"})])
        store.import_events(frame(start=T0 + timedelta(hours=1)))
        path = store.export_parquet(tmp_path / "log.parquet")
        original = store.sql("SELECT * FROM events ORDER BY position").df()
    with eventlab.EventStore() as copy:
        copy.import_events(path)
        again = copy.sql("SELECT * FROM events ORDER BY position").df()
        pd.testing.assert_frame_equal(original, again)
        assert copy.import_events(path).skipped == len(original)  # re-importing is harmless
        assert copy.count() == len(original)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="type"), "missing"),
    (lambda f: f.assign(colour="red"), "unknown"),
    (lambda f: f.assign(recorded_at=[t.replace(tzinfo=None) for t in f.recorded_at]), "timezone-aware"),
    (lambda f: f.assign(recorded_at=list(reversed(f.recorded_at))), "before the row above"),
    (lambda f: f.assign(data=['{"a": 1}', "not json", "{}", "{}", "{}"]), "row 1: data"),
    (lambda f: f.assign(data=["[1, 2]"] + ["{}"] * 4), "not a JSON object"),
    (lambda f: f.assign(stream_id=["order-0", "", "x", "y", "z"]), "row 1: stream_id"),
    (lambda f: f.assign(event_id=["nope"] * 5), "not a UUID"),
    (lambda f: f.assign(event_id=[str(uuid.UUID(int=1))] * 5), "appears 5 times"),
    (lambda f: f.assign(version=[1, 1, 2, 2, 7]), "row 4: version 7"),
    (lambda f: f.assign(data=[{"v": float("inf")}] * 5), "JSON cannot store"),
])
def test_bad_imports_are_refused_whole_with_the_row_named(change, message):
    with eventlab.EventStore() as store:
        with pytest.raises(eventlab.EventLabError, match=message):
            store.import_events(change(frame()))
        assert store.count() == 0


def test_an_import_cannot_rewrite_the_past():
    with eventlab.EventStore(clock=lambda: T0 + timedelta(days=1)) as store:
        store.append("order-0", [NewEvent("OrderPlaced")])
        with pytest.raises(eventlab.InvalidEventError, match="before the newest stored event"):
            store.import_events(frame())
        assert store.count() == 1


def test_a_missing_file_is_a_clear_error(tmp_path):
    with eventlab.EventStore() as store, pytest.raises(eventlab.StoreError, match="no file"):
        store.import_events(tmp_path / "nope.parquet")
