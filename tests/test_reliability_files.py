"""Store files that are damaged, foreign, unreachable, read-only or on a full disk.

Each gives a clear ``EventLabError`` that says what to do: never a store that opens
silently empty or with events missing, never a raw DuckDB traceback, never a
half-written event. The read-only folder and the full disk are real file systems
(tmpfs mounts: running as root ignores permission bits), skipped where mounting
is not allowed.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import eventlab
from eventlab import NewEvent
from eventlab.examples import read_models
from eventlab.projections import catch_up, lag
from eventlab.storage import schema

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "orders-sample.parquet"


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[bytes, list[tuple]]:
    """A store file of 300 events (about 2 MB, several blocks) and its log."""
    path = tmp_path_factory.mktemp("files") / "shop.duckdb"
    with eventlab.EventStore(path) as store:
        with store.unit_of_work():
            for i in range(300):
                store.append(f"order-{i % 7}", [NewEvent("Noted", {"i": i, "pad": f"{i:04d}" * 50})])
        log = log_of(store)
    return path.read_bytes(), log


def log_of(store: eventlab.EventStore) -> list[tuple]:
    return [(r.position, r.stream_id, r.version, r.type, r.data, r.event_id) for r in store.read_all()]


def open_and_read(path: Path) -> list[tuple] | eventlab.EventLabError:
    """What a user gets from opening the file and reading it all: the log, or the error."""
    try:
        with eventlab.EventStore(path) as store:
            log = log_of(store)
            report = store.verify()
            assert store.count() == len(log) and report.ok and report.events_checked == len(log)
            return log
    except eventlab.EventLabError as error:
        return error


@pytest.mark.parametrize("keep", [0, 10, 4096, 12288, 100_000, 0.5, -4096])
def test_a_truncated_file_is_refused_as_damaged_or_reads_whole(tmp_path, original, keep):
    data, log = original
    keep = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    path = tmp_path / "cut.duckdb"
    path.write_bytes(data[:keep])
    got = open_and_read(path)
    if isinstance(got, list):  # the cut part held nothing in use: every event is still there
        assert got == log
        return
    assert isinstance(got, eventlab.StoreError), got
    assert "damaged" in str(got) and "restore it from a copy" in str(got) or "not a DuckDB" in str(got)
    assert path.read_bytes() == data[:keep]  # refused, not replaced by a new empty store


def test_corrupted_bytes_anywhere_are_refused_as_damaged_or_read_whole(tmp_path, original):
    data, log = original
    seed = int(os.environ.get("EVENTLAB_CORRUPT_SEED", "7"))
    rng = random.Random(seed)
    outcomes = []
    for attempt in range(10):
        offset = rng.randrange(len(data) - 64)
        damaged = bytearray(data)
        damaged[offset:offset + 64] = bytes(b ^ 0x5A for b in damaged[offset:offset + 64])
        path = tmp_path / f"corrupt-{attempt}.duckdb"
        path.write_bytes(bytes(damaged))
        got = open_and_read(path)
        where = f"64 bytes flipped at offset {offset} (seed {seed}, EVENTLAB_CORRUPT_SEED to rerun)"
        if isinstance(got, list):
            assert got == log, where  # a block not in use: nothing lost, nothing changed
        else:
            assert isinstance(got, eventlab.StoreError) and "damaged" in str(got), f"{got!r}: {where}"
        outcomes.append(isinstance(got, list))
    assert not all(outcomes), f"no corruption was noticed at all (seed {seed})"


def test_files_that_are_not_stores_and_paths_that_are_not_files(tmp_path):
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    for read_only in (False, True):
        with pytest.raises(eventlab.NotAnEventStoreError, match="not a DuckDB database"):
            eventlab.EventStore(empty, read_only=read_only)
    assert empty.read_bytes() == b""
    with pytest.raises(eventlab.StoreError, match="is a directory; give the path of a .duckdb file"):
        eventlab.EventStore(tmp_path)
    missing = tmp_path / "no" / "such" / "folder" / "shop.duckdb"
    with pytest.raises(eventlab.StoreError, match="does not exist; create it first"):
        eventlab.EventStore(missing)
    with pytest.raises(eventlab.StoreError, match="no store file"):
        eventlab.EventStore(missing, read_only=True)
    assert not (tmp_path / "no").exists()
    with pytest.raises(eventlab.StoreError, match="does not exist"):
        eventlab.EventStore(empty / "inside-a-file.duckdb")  # its "folder" is a file
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE customers (id INT)")
    with pytest.raises(eventlab.NotAnEventStoreError, match="customers"):
        eventlab.EventStore(other, read_only=True)


def test_a_store_from_a_newer_eventlab_is_refused_read_only_too(tmp_path):
    path = tmp_path / "future.duckdb"
    with eventlab.EventStore(path) as store:
        store.append("order-1", [NewEvent("Placed")])
        store.sql("UPDATE eventlab_meta SET value = ? WHERE key = 'schema_version'",
                  [str(schema.SCHEMA_VERSION + 1)])
    for read_only in (False, True):
        with pytest.raises(eventlab.SchemaVersionError, match="newer eventlab .*pip install -U eventlab"):
            eventlab.EventStore(path, read_only=read_only)
    with duckdb.connect(str(path), read_only=True) as con:  # untouched
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(1,)]


# --- real file systems: a read-only folder, a full disk ---------------------------------------


@contextlib.contextmanager
def tmpfs(folder: Path, options: str):
    """Mount a tmpfs at ``folder`` (root only), or skip the test saying why."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (as in CI); permission bits alone do not stop root")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_folder_gives_a_clear_error_and_still_reads(tmp_path):
    with tmpfs(tmp_path / "ro", "size=4m") as folder:
        with eventlab.EventStore(folder / "shop.duckdb") as store:
            store.append("order-1", [NewEvent("Placed", {"items": ["a"]})])
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        for path in (folder / "new.duckdb", folder / "shop.duckdb"):
            with pytest.raises(eventlab.StoreError, match="Read-only file system.*read_only=True"):
                eventlab.EventStore(path)
        assert sorted(os.listdir(folder)) == ["shop.duckdb"]
        with eventlab.EventStore(folder / "shop.duckdb", read_only=True) as reader:
            assert reader.read("order-1")[0].data == {"items": ["a"]} and reader.verify().ok


def fill(folder: Path) -> Path:
    """Fill the file system with one file until it is full; remove the file to make room again."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as out:
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def state(store: eventlab.EventStore) -> tuple:
    return store.count(), store.head_position, log_of(store)[-3:], store.verify().ok, \
        lag(store, read_models.ALL)["position"].tolist()


def test_a_full_disk_refuses_every_kind_of_write_whole_and_the_store_goes_on_after(tmp_path):
    sample = pd.read_parquet(SAMPLE)
    big = {"note": "x" * 40_000}  # more than a page of the write-ahead log: it cannot fit in slack
    with tmpfs(tmp_path / "small", "size=2m") as folder, \
            eventlab.EventStore(folder / "shop.duckdb") as store:
        store.import_events(sample.iloc[:300])
        catch_up(store, read_models.ALL)
        store.import_events(sample.iloc[300:400])
        filler = fill(folder)
        before = state(store)

        def nothing_written(error: eventlab.StoreError) -> None:
            assert "is full" in str(error) and "nothing was written" in str(error)
            assert "Free some space" in str(error)
            assert state(store) == before

        with pytest.raises(eventlab.StoreError) as error:
            store.append("notes", [NewEvent("Noted", big)])
        nothing_written(error.value)
        with pytest.raises(eventlab.StoreError) as error, store.unit_of_work():
            for i in range(5):
                store.append(f"notes-{i}", [NewEvent("Noted", big)])
        nothing_written(error.value)
        with pytest.raises(eventlab.StoreError) as error:
            store.import_events(sample.iloc[400:1400])
        nothing_written(error.value)
        with pytest.raises(eventlab.StoreError) as error:
            catch_up(store, read_models.ALL)
        nothing_written(error.value)

        filler.unlink()  # room again: everything works, from where it stood
        assert store.import_events(sample.iloc[400:1400]).imported == 1000
        catch_up(store, read_models.ALL)
        assert store.append("notes", [NewEvent("Noted", big)], expected_version=0)[0].position == 1401
        assert store.verify().ok
        models = {name: store.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
                  for p in read_models.ALL for name in p.tables}
    with eventlab.EventStore() as fresh:
        fresh.import_events(sample.iloc[:1400])
        catch_up(fresh, read_models.ALL)
        assert models == {name: fresh.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
                          for p in read_models.ALL for name in p.tables}


def test_creating_a_store_on_a_full_disk_leaves_no_half_made_file(tmp_path):
    with tmpfs(tmp_path / "tiny", "size=1m") as folder:
        fill(folder)
        with pytest.raises(eventlab.StoreError, match="is full"):
            eventlab.EventStore(folder / "new.duckdb")
        assert sorted(os.listdir(folder)) == ["filler"]  # a retry later starts afresh
