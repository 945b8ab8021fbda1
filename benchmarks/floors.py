"""What DuckDB alone costs for the writes eventlab makes: the floors under import and the unit of work.

    python -m benchmarks.floors insert path/to/orders.duckdb --rounds 2   # each set of indexes
    python -m benchmarks.floors commit --rounds 30                        # one unit vs SQLite

``insert``: the store's rows (e.g. the 989,955 events that ``--size scale`` builds), from Arrow,
INSERT + COMMIT into a new file whose ``events`` table has the store's two indexes, only one of
them, or none; then the same rows again (later positions) into that file. Wall and CPU seconds
(CPU counts every thread: on a shared machine it moves far less than the wall clock). ``commit``:
one transaction of 1,000 event rows, INSERT + COMMIT and nothing else, into the store's table
against SQLite into the peer's two tables (``executemany``, WAL, as the eventsourcing library
keeps its events); medians. The variants take turns within each round.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from eventlab.storage import schema

INDEXES = {  # variant -> (the position column, with the stream index)
    "store (primary key + stream index)": ("position BIGINT NOT NULL PRIMARY KEY", True),
    "stream index only": ("position BIGINT NOT NULL", True),
    "primary key only": ("position BIGINT NOT NULL PRIMARY KEY", False),
    "no index": ("position BIGINT NOT NULL", False),
}
INSERT_UNIT = ("INSERT INTO events SELECT position, stream_id, version, type, data::JSON, metadata::JSON, "
               "schema_version, event_id::UUID, occurred_at::TIMESTAMPTZ, recorded_at, prev_hash, hash "
               "FROM unit")
"""One unit's rows, registered as ``unit`` (Arrow, text for JSON and ids), into the store's table."""
_POSITION = "position       BIGINT      NOT NULL PRIMARY KEY,"
_STREAM_INDEX = "CREATE INDEX events_stream_id ON events (stream_id);"


def _ddl(position: str, stream_index: bool) -> str:
    assert _POSITION in schema.EVENTS_DDL and _STREAM_INDEX in schema.EVENTS_DDL  # the store's DDL, edited
    ddl = schema.EVENTS_DDL.replace(_POSITION, position + ",")
    return ddl if stream_index else ddl.replace(_STREAM_INDEX, "")


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB file with the store's settings (its storage compatibility)."""
    return duckdb.connect(str(path), config={"storage_compatibility_version": schema.STORAGE_COMPATIBILITY})


def insert(store: Path, rounds: int, folder: Path) -> list[dict]:
    """INSERT + COMMIT of the store's rows into each variant of ``events``, new file then full file."""
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.sql("SELECT * FROM events ORDER BY position").to_arrow_table()
    later = rows.set_column(0, "position", pc.add(rows.column("position"), rows.num_rows))
    results = []
    for round_ in range(1, rounds + 1):
        for name, (position, stream_index) in INDEXES.items():
            path = folder / "floor.duckdb"
            path.unlink(missing_ok=True)
            con = connect(path)
            con.execute(_ddl(position, stream_index))
            result = {"round": round_, "indexes": name}
            for key, part in (("new file", rows), ("full file", later)):
                con.register("part", part)
                wall, cpu = time.perf_counter(), time.process_time()
                con.execute("BEGIN")
                con.execute("INSERT INTO events SELECT * FROM part")
                con.execute("COMMIT")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                con.unregister("part")
                result[key] = {"events/s": round(part.num_rows / wall), "wall s": round(wall, 2),
                               "cpu s": round(cpu, 2)}
            con.close()
            path.unlink()
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def commit(rounds: int, folder: Path, size: int = 1_000) -> dict:
    """One transaction of ``size`` event rows: DuckDB into the store's table, SQLite into the peer's."""
    con = connect(folder / "unit.duckdb")
    con.execute(schema.EVENTS_DDL)
    lite = sqlite3.connect(folder / "unit.sqlite", isolation_level=None)
    lite.execute("PRAGMA journal_mode = WAL")
    lite.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
                 "state BLOB, PRIMARY KEY (originator_id, originator_version))")
    lite.execute("CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, originator_id TEXT, "
                 "originator_version INTEGER, topic TEXT, state BLOB)")
    duck, sqlite, position = [], [], 0
    for _ in range(rounds):
        data = json.dumps({"order_id": str(uuid.uuid4()), "item": "sku-1234"})
        now = datetime.now(timezone.utc)
        rows = [(position + i + 1, f"order-{uuid.uuid4()}", 2, "ItemAdded", data, "{}", 1, str(uuid.uuid4()),
                 None, now, "0" * 64, "f" * 64) for i in range(size)]
        position += size
        table = pa.table({name: pa.array(values) for name, values in zip(schema.EVENT_COLUMNS, zip(*rows))})
        con.register("unit", table)
        start = time.perf_counter()
        con.execute("BEGIN")
        con.execute(INSERT_UNIT)
        con.execute("COMMIT")
        duck.append(time.perf_counter() - start)
        con.unregister("unit")
        stored = [(row[1], 2, "orders:ItemAdded", data.encode()) for row in rows]
        start = time.perf_counter()
        lite.execute("BEGIN")
        lite.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", stored)
        lite.executemany("INSERT INTO notifications (originator_id, originator_version, topic, state) "
                         "VALUES (?, ?, ?, ?)", stored)
        lite.execute("COMMIT")
        sqlite.append(time.perf_counter() - start)
    con.close()
    lite.close()
    result = {"rows per transaction": size, "transactions": rounds,
              "DuckDB ms (median)": round(statistics.median(duck) * 1e3, 2),
              "SQLite ms (median)": round(statistics.median(sqlite) * 1e3, 2)}
    print(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floors", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("insert", "commit"))
    parser.add_argument("store", nargs="?", type=Path, help="for insert: a store file whose rows to insert")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eventlab-floors-") as folder:
        if args.what == "commit":
            commit(args.rounds, Path(folder))
        elif args.store is None or not args.store.exists():
            parser.error("insert needs the path of an existing store file")
        else:
            insert(args.store, args.rounds, Path(folder))


if __name__ == "__main__":
    main()
