"""Bulk import and Parquet export."""

from __future__ import annotations

import threading
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


def test_the_exported_file_holds_types_every_parquet_reader_knows(tmp_path):
    import pyarrow.parquet as pq

    from eventlab.storage import schema

    with eventlab.EventStore(clock=lambda: T0) as store:
        store.append("order-1", [NewEvent("OrderPlaced", {"items": ["a"]})])
        columns = pq.read_schema(store.export_parquet(tmp_path / "log.parquet"))
    texts = [columns.field(name).type for name in ("event_id", "data", "metadata")]
    assert texts == ["string"] * 3  # not Parquet's UUID type, which Spark cannot read
    assert columns.names == list(schema.EVENT_COLUMNS)


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
    (lambda f: f.assign(event_id=[f"{i:x}abcdef0-0000-4000-8000-000000000000" for i in range(4)]  # one id,
                        + ["0ABCDEF0-0000-4000-8000-000000000000"]), "appears 2 times"),  # spelt two ways
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


# --- how the import computes its checks and its chain (faster, the same result) ---------------

TRICKY_JSON = [
    None, "", "{}", " {}", "\t\n{\"a\": 1}", "[]", "[1, 2]", '"text"', "null", "1", "{", "{}x", "{'a': 1}",
    '{"a": NaN}', '{"a": [1, -Infinity]}', '{"a": nan}', '{"a": -inf}', '{"a": 1e400}', '{"a": 1E+400}',
    '{"a": 1,}', '{"a": [1 ,\n]}', '{"a": "\\ud800"}', '{"a": "x\\"y"}', '{"id": "d355d4cf-4e12-5db7"}',
    '{"a": true, "b": false, "c": null}', '{"a": "banana:inf,}"}', "\ufeff{}", '{"a": 01}',
    '{"a": %s}' % ("9" * 5000), '{"a": %s}' % ("9" * 250), '{"a": %s.5}' % ("9" * 320),
    '{"a": %s}' % ("[" * 40 + "]" * 40), '{"a": %s}' % ("[" * 2000 + "]" * 2000),
]


def _staged(store, **columns):
    frame = pd.DataFrame(columns)
    from eventlab.storage import bulk

    con = store._con
    con.register("eventlab_import_source", frame)
    bulk._stage(con, bulk._check_columns(con))
    return con, bulk


def test_the_faster_check_conditions_pick_the_same_rows_as_the_checks():
    ids = [None, str(uuid.UUID(int=5)), "nope", "", str(uuid.UUID(int=6)).upper(), f"{{{uuid.UUID(int=7)}}}"]
    n = max(len(TRICKY_JSON), len(ids))
    with eventlab.EventStore() as store:
        con, bulk = _staged(
            store, stream_id=["s"] * n, type=["T"] * n, recorded_at=[T0] * n,
            data=pd.Series((TRICKY_JSON * 2)[:n], dtype=object),
            metadata=pd.Series(list(reversed(TRICKY_JSON * 2))[:n], dtype=object),
            event_id=pd.Series((ids * n)[:n], dtype=object))

        def rows(condition):
            return con.execute(f"SELECT row_no FROM eventlab_import WHERE {condition} ORDER BY 1").fetchall()

        for i, faster in bulk._FASTER_CHECKS.items():
            assert rows(bulk._CHECKS[i][0]), bulk._CHECKS[i][1]  # some rows fail each of them
            assert rows(faster) == rows(bulk._CHECKS[i][0]), bulk._CHECKS[i][1]


def test_every_valid_json_text_python_may_refuse_is_picked_for_the_python_check():
    import json
    import math

    def python_reads(text):
        def refuse(token):
            raise ValueError(token)

        def finite(token):
            if not math.isfinite(float(token)):
                raise ValueError(token)
            return float(token)

        try:
            json.loads(text, parse_constant=refuse, parse_float=finite)
        except (ValueError, RecursionError):
            return False
        return True

    texts = [t for t in TRICKY_JSON if t is not None] + [
        f'{{"id": "4e123", "x": {v}}}' for v in ("NaN", "-nan", "Infinity", "[1,]", "1e400", "1.5e308",
                                                  "true", "null", "[false]", '"a,}"', "-0", "1e-999")]
    with eventlab.EventStore() as store:
        from eventlab.storage import bulk

        for text in texts:
            valid, matched = store.sql(
                f"SELECT coalesce(json_valid(?), false), regexp_matches(?, '{bulk._UNREADABLE_JSON}')",
                [text, text]).fetchall()[0]
            if valid and not python_reads(text):
                assert matched, text
        # and it leaves alone what the benchmark's rows look like: ids in strings, numbers, lists
        text = '{"order_id":"d355d4cf-4e12-5db7-b007-14ef51d7d9c2","user_id":1934,"items":["sku-7462"]}'
        matched = store.sql(f"SELECT regexp_matches(?, '{bulk._UNREADABLE_JSON}')", [text]).fetchall()
        assert matched == [(False,)]


def test_a_name_check_names_the_first_row_with_that_name():
    with eventlab.EventStore() as store, pytest.raises(eventlab.InvalidEventError, match="^row 1: stream_id"):
        store.import_events(frame(5).assign(stream_id=["a", "", "b", "", "\x00"]))
    with eventlab.EventStore() as store, pytest.raises(eventlab.InvalidEventError, match="^row 2: type"):
        store.import_events(frame(5).assign(type=["A", "B", " ", "C", " "]))


def test_json_python_cannot_read_is_refused_next_to_ids_that_look_like_numbers():
    data = ['{"id": "4e123", "a": 1}', '{"id": "4e123", "a": [1, 2,]}', "{}", "{}", "{}"]
    with eventlab.EventStore() as store, pytest.raises(eventlab.InvalidEventError, match="row 1: data"):
        store.import_events(frame(5).assign(data=data))
    with eventlab.EventStore() as store:
        assert store.import_events(frame(5).assign(data=[data[0]] * 5)).imported == 5


@pytest.mark.parametrize("number", ["9" * 299 + "e10", "-" + "9" * 250 + "e60", "9" * 210 + ".5e99"])
def test_a_float_too_large_to_read_back_is_refused_not_stored_as_infinity(number):
    with eventlab.EventStore() as store, pytest.raises(eventlab.InvalidEventError, match="row 2: data"):
        store.import_events(frame(3).assign(data=["{}", "{}", f'{{"a": {number}}}']))
    with eventlab.EventStore() as store:  # a long int is a number Python reads exactly: kept
        store.import_events(frame(1).assign(data=['{"a": ' + "9" * 299 + '}']))
        assert store.read_all()[0].data == {"a": int("9" * 299)}


def test_uuid_objects_as_read_all_df_gives_them_are_kept():
    ids = [uuid.uuid4() for _ in range(5)]
    with eventlab.EventStore() as store:
        store.import_events(frame(5).assign(event_id=ids))
        assert [r.event_id for r in store.read_all()] == ids
        again = store.read_all_df()
        assert store.import_events(again).skipped == 5
    with eventlab.EventStore() as store:  # a mixed column is read as before: None gets a new id
        store.import_events(frame(3).assign(event_id=[ids[0], None, str(ids[2])]))
        got = [r.event_id for r in store.read_all()]
        assert got[0] == ids[0] and got[2] == ids[2] and got[1] not in ids
        assert store.verify().ok


def test_a_partly_stored_import_writes_only_the_new_rows_in_order(monkeypatch):
    from eventlab.storage import bulk

    monkeypatch.setattr(bulk, "_CHUNK", 3)  # several chunks of digests, folded one after another,
    monkeypatch.setattr(bulk, "_SLICE", 4)  # in slices inserted one after another, each chaining on
    ids = [str(uuid.uuid4()) for _ in range(12)]
    source = frame(12, streams=3, event_id=ids)
    with eventlab.EventStore() as store:
        store.import_events(source.iloc[:5])
        report = store.import_events(source.iloc[3:], progress=True)
        assert (report.imported, report.skipped, report.first_position, report.last_position) == (7, 2, 6, 12)
        log = store.read_all()
        assert [str(r.event_id) for r in log] == ids and [r.position for r in log] == list(range(1, 13))
        assert [r.version for r in log] == [1 + i // 3 for i in range(12)]
        assert store.verify().ok
    with eventlab.EventStore() as whole:
        whole.import_events(source)
        assert whole.sql("SELECT hash FROM events ORDER BY position").fetchall() == \
            store_hashes(source.iloc[:5], source.iloc[3:])


def store_hashes(*parts):
    with eventlab.EventStore() as store:
        for part in parts:
            store.import_events(part)
        return store.sql("SELECT hash FROM events ORDER BY position").fetchall()


def test_an_import_that_fails_between_chunks_leaves_the_store_as_it_was(monkeypatch):
    from eventlab.storage import bulk, chain

    monkeypatch.setattr(bulk, "_CHUNK", 3)  # chunks of 3 rows, each inserted while the next is hashed,
    monkeypatch.setattr(bulk, "_SLICE", 6)  # the third in the second slice: the first one is written
    real_link_all, calls = chain.link_all, []

    def failing_on_the_third_chunk(prev_hash, digests):
        calls.append(len(digests))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while earlier chunks and a slice are inserted already
        return real_link_all(prev_hash, digests)

    with eventlab.EventStore() as store:
        store.import_events(frame(4))
        before = store.sql("SELECT * FROM events ORDER BY position").fetchall()
        monkeypatch.setattr(chain, "link_all", failing_on_the_third_chunk)
        with pytest.raises(KeyboardInterrupt):
            store.import_events(frame(12, start=T0 + timedelta(days=1)))
        assert len(calls) == 3
        assert store.sql("SELECT * FROM events ORDER BY position").fetchall() == before
        monkeypatch.setattr(chain, "link_all", real_link_all)
        assert store.import_events(frame(12, start=T0 + timedelta(days=1))).first_position == 5
        assert store.count() == 16 and store.verify().ok


def test_an_error_while_chaining_is_raised_as_itself_and_nothing_is_written(monkeypatch):
    from eventlab.storage import bulk, chain

    monkeypatch.setattr(bulk, "_CHUNK", 3)  # the chain is folded on a second thread while DuckDB inserts
    real_link_all, calls = chain.link_all, []

    def failing_on_the_second_chunk(prev_hash, digests):
        calls.append(len(digests))
        if len(calls) == 2:
            raise ValueError("the disk of hashes is full")
        return real_link_all(prev_hash, digests)

    with eventlab.EventStore() as store:
        store.import_events(frame(4))
        monkeypatch.setattr(chain, "link_all", failing_on_the_second_chunk)
        with pytest.raises(ValueError, match="the disk of hashes is full"):
            store.import_events(frame(9, start=T0 + timedelta(days=1)))
        assert store.count() == 4 and store.verify().ok
        assert [name for name in (t.name for t in threading.enumerate()) if "eventlab-import" in name] == []


def test_one_progress_bar_shows_the_whole_import_in_events_per_second(capsys):
    with eventlab.EventStore() as store:
        store.import_events(frame(50), progress=True)
        store.import_events(frame(5, start=T0 + timedelta(days=1)))  # off by default
    shown = capsys.readouterr().err
    steps = [line.split(":")[0] for line in shown.split("\r") if line.strip()]
    assert list(dict.fromkeys(steps)) == ["reading", "checking", "numbering and hashing", "writing",
                                          "committing", "imported"]
    assert "imported: 100%" in shown and "50/50" in shown and "events/s]" in shown
    assert "/5 " not in shown  # nothing of the second import


def test_duplicate_event_ids_are_refused_or_skipped_with_no_index_to_catch_them():
    ids = [str(uuid.uuid4()) for _ in range(4)]
    with eventlab.EventStore() as store:
        with pytest.raises(eventlab.InvalidEventError, match="appears 2 times"):
            store.import_events(frame(4, event_id=[ids[0], ids[1], ids[0], ids[3]]))
        assert store.count() == 0
        store.import_events(frame(4, event_id=ids))
        assert store.import_events(frame(4, start=T0 + timedelta(days=1), event_id=ids)).skipped == 4
        with pytest.raises(eventlab.InvalidEventError, match="stored already"):
            store.append("order-0", [NewEvent("X", event_id=ids[1])])  # it is in order-1
        assert store.sql("SELECT count(DISTINCT event_id) FROM events").fetchall()[0][0] == store.count() == 4
