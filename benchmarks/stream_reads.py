"""Reading one stream of 20 to 5,000 events: through the stream index, or a scan of the column.

    python -m benchmarks.stream_reads --events 100000 1000000 4000000

For each size, a log of 5-event orders with streams of 20 to 5,000 events mixed in (built with
``import_events`` in a temporary folder), then ``store.read`` of each of those streams, medians
of 9 (a garbage collection before each, untimed): under the store's index cut-off (the stream index
for up to max(``schema.INDEX_SCAN_ROWS``, 0.1 % of the table) rows) and under DuckDB's own
(2,048 rows, or 0.1 %), taking turns.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from eventlab import EventStore
from eventlab.storage import schema

LENGTHS = (20, 50, 100, 200, 300, 500, 1_000, 2_000, 5_000)
CUT_OFFS = {"store": schema.INDEX_SCAN_ROWS, "duckdb": 2_048}  # rows; and 0.1 % of the table either way


def build(path: Path, events: int, seed: int = 1) -> None:
    """A log of ``events`` events: streams ``long-N`` of N events each, the rest 5-event orders."""
    rng = random.Random(seed)
    streams = [f"long-{n}" for n in LENGTHS for _ in range(n)]
    streams += [f"order-{i // 5}" for i in range(events - len(streams))]
    rng.shuffle(streams)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with EventStore(path) as store:
        store.import_events(pd.DataFrame({
            "stream_id": streams, "type": "ItemAdded",
            "data": [json.dumps({"item": f"sku-{rng.randint(0, 9999):04d}"}) for _ in streams],
            "recorded_at": [start + timedelta(seconds=i) for i in range(events)]}))


def read_times(path: Path, rounds: int = 9) -> dict[str, dict[int, float]]:
    """Median ms of ``store.read`` of each long stream, under each cut-off, taking turns."""
    times: dict[str, dict[int, list[float]]] = {name: {n: [] for n in LENGTHS} for name in CUT_OFFS}
    with EventStore(path, read_only=True) as store:
        for _ in range(rounds):
            for name, rows in CUT_OFFS.items():
                store.sql(f"SET index_scan_max_count = {rows}")
                for n in LENGTHS:
                    gc.collect()  # else a collection falls in the same read of every round
                    start = time.perf_counter()
                    store.read(f"long-{n}")
                    times[name][n].append(time.perf_counter() - start)
    return {name: {n: round(statistics.median(t) * 1e3, 2) for n, t in by_length.items()}
            for name, by_length in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stream_reads",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eventlab-stream-reads-") as folder:
        for events in args.events:
            path = Path(folder) / f"log-{events}.duckdb"
            build(path, events)
            print(json.dumps({"events": events, "store.read ms by stream length": read_times(path)}),
                  flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
