"""How fast could eventlab write? The least work a unit of work and an import need, measured beside them.

    python -m benchmarks.ceiling unit --orders 20000 --rounds 3
    python -m benchmarks.ceiling import path/to/orders.duckdb --rounds 3

Issue 20 asks for a unit of work of 1,000 commands at twice the peer's ``save(*aggregates)``, and
for an import of 1 M events at 250,000 events/s. ``unit`` runs, in one process, taking turns in
each round, on the commands of orders-v1:

- ``rules``: the shop's ``decide`` and ``fold`` alone, states in a dict: no store can be faster;
- ``least``: the least any store must add to the rules per command, written out here with no
  checks, no caches and no store object: the event's payload as JSON text, a fresh id, the
  content digest and chain link, the ``RecordedEvent`` handed back, the row; then, per 1,000
  commands, one Arrow INSERT + COMMIT into the store's table in a new DuckDB file;
- ``eventlab``: the suite's append-batched phase (``handle`` per command, 1,000 per
  ``store.unit_of_work()``);
- ``peer``: the suite's peer phase (the eventsourcing library, ``save(*aggregates)`` per 1,000).

Events/s, the median of the rounds, and each as a multiple of the peer.

``import``: the rows of a store (e.g. the 989,955 events that ``--size scale`` builds), already
numbered and checked, so with none of an import's reading, checking and numbering, written into a
new file with only what the hash chain adds: DuckDB's content digests, the chain folded in
Python, then one INSERT + COMMIT (``least``); beside it the floor, DuckDB's INSERT + COMMIT of the
same rows with their hashes ready, and ``store.import_events`` of them; taking turns.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from benchmarks import eventlab_side, floors, peer_side, workload
from benchmarks.harness import SIZES, Context
from eventlab import EventStore
from eventlab.core.events import encode_json, payload_of, recorded_event, type_name_of
from eventlab.core.moments import utc_now
from eventlab.storage import chain, schema


def least(commands: list[tuple[str, object]], path: Path, batch: int = 1_000) -> float:
    """Events/s of the rules plus the least a store must do per command, and DuckDB's commits."""
    decider, states = eventlab_side.decider, {}
    con = floors.connect(path)
    con.execute(schema.EVENTS_DDL)
    position, prev_hash, events = 0, chain.GENESIS, 0
    start = time.perf_counter()
    for first in range(0, len(commands), batch):
        rows, recorded_at = [], utc_now()
        for stream_id, command in commands[first:first + batch]:
            version, state = states.get(stream_id, (0, decider.initial_state))
            decided = decider.decide(command, state)
            for event in decided:
                type_name = type_name_of(event)
                text, data = encode_json(payload_of(event), "data", fresh=True)
                event_id = uuid.uuid4()
                position, version = position + 1, version + 1
                digest = chain.content_digest(position, stream_id, version, type_name, 1, str(event_id), None,
                                              recorded_at, text, "{}")
                hash_ = chain.link(prev_hash, digest)
                rows.append((position, stream_id, version, type_name, text, "{}", 1, str(event_id), None,
                             recorded_at, prev_hash, hash_))
                recorded_event(stream_id, version, position, type_name, data, {}, event_id, recorded_at,
                               None, 1)
                prev_hash = hash_
            states[stream_id] = (version, decider.fold(state, decided))
        table = pa.table({name: pa.array(values) for name, values in zip(schema.EVENT_COLUMNS, zip(*rows))})
        con.register("unit", table)
        con.execute("BEGIN")
        con.execute(floors.INSERT_UNIT)
        con.execute("COMMIT")
        con.unregister("unit")
        events += len(rows)
    seconds = time.perf_counter() - start
    con.close()
    return events / seconds


def written(rows: pa.Table, path: Path, *, chained: bool) -> float:
    """Events/s of writing ``rows`` into a new file: INSERT + COMMIT of rows with their hashes (the
    floor), or, ``chained``, of rows without them, first digested and chained (the least import)."""
    con = floors.connect(path)
    con.execute(schema.EVENTS_DDL)
    start = time.perf_counter()
    if chained:
        con.register("part", rows)
        digests = con.sql(f"SELECT {chain.CONTENT_SQL} AS digest FROM part").to_arrow_table()
        hashes = chain.link_all(chain.GENESIS, digests.column("digest").to_pylist())
        rows = rows.append_column("prev_hash", pa.array([chain.GENESIS, *hashes[:-1]])).append_column(
            "hash", pa.array(hashes))
    con.register("part", rows)
    con.execute("BEGIN")
    con.execute("INSERT INTO events SELECT * FROM part")
    con.execute("COMMIT")
    seconds = time.perf_counter() - start
    con.close()
    return rows.num_rows / seconds


def eventlab_import(frame, path: Path) -> float:
    """Events/s of ``store.import_events`` of the store's events (as ``read_all_df`` gives them)."""
    with EventStore(path) as store:
        start = time.perf_counter()
        report = store.import_events(frame)
        return report.imported / (time.perf_counter() - start)


def _unit(orders: int, rounds: int) -> dict:
    size = replace(SIZES["full"], n_orders=orders)
    commands = eventlab_side.prepared(list(workload.orders(orders)))
    figures: dict[str, list[float]] = {"rules": [], "least": [], "eventlab": [], "peer": []}
    for round_ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="eventlab-ceiling-") as folder:
            folder = Path(folder)
            figures["rules"].append(eventlab_side.domain_rate(commands))
            figures["least"].append(least(commands, folder / f"least-{round_}.duckdb"))
            figures["eventlab"].append(
                eventlab_side.PHASES["append-batched"](Context(size, folder))["figures"]["events/s"])
            figures["peer"].append(
                peer_side.PHASES["append-batched"](Context(size, folder))["figures"]["events/s"])
    medians = {name: statistics.median(values) for name, values in figures.items()}
    peer = medians["peer"]
    return {"orders": orders, "events": len(commands), "rounds": rounds,
            **{f"{name} events/s": round(value) for name, value in medians.items()},
            **{f"{name} x peer": round(value / peer, 2) for name, value in medians.items()}}


def _import(store: Path, rounds: int) -> dict:
    with EventStore(store, read_only=True) as source:
        frame = source.read_all_df()
        rows = source.arrow("SELECT * EXCLUDE (prev_hash, hash) FROM events ORDER BY position")
        finished = source.arrow("SELECT * FROM events ORDER BY position")
    figures: dict[str, list[float]] = {"floor": [], "least": [], "eventlab": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="eventlab-ceiling-") as folder:
            folder = Path(folder)
            figures["floor"].append(written(finished, folder / "floor.duckdb", chained=False))
            figures["least"].append(written(rows, folder / "least.duckdb", chained=True))
            figures["eventlab"].append(eventlab_import(frame, folder / "eventlab.duckdb"))
    medians = {name: statistics.median(values) for name, values in figures.items()}
    return {"events": rows.num_rows, "rounds": rounds,
            **{f"{name} events/s": round(value) for name, value in medians.items()},
            **{f"{name} x floor": round(value / medians["floor"], 2) for name, value in medians.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("unit", "import"))
    parser.add_argument("store", nargs="?", type=Path, help="for import: a store file whose events to write")
    parser.add_argument("--orders", type=int, default=20_000, help="for unit: orders of the workload")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.what == "unit":
        result = _unit(args.orders, args.rounds)
    elif args.store is None or not args.store.exists():
        parser.error("import needs the path of an existing store file")
    else:
        result = _import(args.store, args.rounds)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
