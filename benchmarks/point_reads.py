"""Point reads on an open store beside DuckDB's own floor for the same lookups; prints JSON (medians, ms).

    python benchmarks/point_reads.py STORE STREAM            # STREAM: e.g. a 10-event order
    python benchmarks/point_reads.py STORE STREAM --snapshot # STREAM has a snapshot: state_at from it

Each figure is timed 60 times per round, in turn with the others (5 rounds), so all share the
machine's load alike; the figure is the median of the rounds' medians. Run it with old and new
code in turn (``PYTHONPATH=<old checkout> python benchmarks/point_reads.py ...``, run by its path so that
the checkout on PYTHONPATH is the eventlab imported) to compare them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import eventlab
from eventlab.examples import orders
from eventlab.storage.store import SELECT_EVENTS


def medians(work: dict, rounds: int = 5, times: int = 60) -> dict[str, float]:
    found: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(rounds):
        for name, read in work.items():
            for _ in range(3):  # warm up
                read()
            seconds = []
            for _ in range(times):
                start = time.perf_counter()
                read()
                seconds.append(time.perf_counter() - start)
            found[name].append(statistics.median(seconds) * 1e3)
    return {name: statistics.median(ms) for name, ms in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("stream")
    parser.add_argument("--snapshot", action="store_true")
    args = parser.parse_args()
    store, stream = eventlab.EventStore(args.store, read_only=True), args.stream
    decider = orders.stock_decider if stream.startswith("stock-") else orders.decider
    work = {"state_at ms": lambda: eventlab.state_at(store, stream, decider)}
    if args.snapshot:  # DuckDB's part: the newest snapshot's row fetched, its JSON text not parsed
        work["floor: snapshot row ms"] = lambda: store.rows(
            "SELECT state FROM snapshots WHERE stream_id = ? ORDER BY version DESC LIMIT 1", [stream])
    else:
        position = store.rows("SELECT min(position) FROM events WHERE stream_id = ?", [stream])[0][0]
        work |= {"read ms": lambda: store.read(stream),
                 "floor: the stream's rows by its index ms": lambda: store.rows(
                     f"{SELECT_EVENTS} WHERE stream_id = ?", [stream]),
                 "floor: one row by primary key ms": lambda: store.rows(
                     "SELECT * FROM events WHERE position = ?", [position])}
    print(json.dumps(medians(work, times=15 if args.snapshot else 60)))


if __name__ == "__main__":
    main()
