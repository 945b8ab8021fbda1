"""Replay cost against stream length: eventlab with and without a snapshot, and the peer.

    python -m benchmarks.replay_curve docs/replay-cost.png        # about a minute

One order placed and then M ``ItemAdded`` (the workload's long stream, cut to each
length), in a file per side and length. Each point is the median of 3 reads of the
current state on an open store / application (the file opening is left out, so
the curve shows the replay itself). Draws the figure with ``eventlab.viz.replay_cost``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from statistics import median

import pandas as pd

from benchmarks import peer_side, workload
from eventlab import EventStore, handle, snapshots, state_at, viz
from eventlab.examples import orders

LENGTHS = (1_000, 3_000, 10_000, 30_000, 100_000)
REPEATS = 3


def _timed(read) -> float:
    times = []
    for _ in range(REPEATS + 1):
        start = time.perf_counter()
        read()
        times.append(time.perf_counter() - start)
    return median(times[1:])  # the first read warms the connection up


def eventlab_points(folder: Path, n_items: int) -> list[tuple[int, float, str]]:
    long_id, items = workload.long_stream(20_000, n_items)
    stream_id = orders.stream_id(str(long_id))
    with EventStore(folder / f"long-{n_items}.duckdb") as store:
        with store.unit_of_work():
            handle(store, orders.decider, stream_id, orders.PlaceOrder(str(long_id), 1, []))
            for start in range(0, n_items, 1_000):
                store.append(stream_id, [orders.ItemAdded(str(long_id), item)
                                         for item in items[start:start + 1_000]], expected_version=1 + start)
        cold = _timed(lambda: state_at(store, stream_id, orders.decider))
        snapshots.take(store, stream_id, orders.decider)
        warm = _timed(lambda: state_at(store, stream_id, orders.decider))
    return [(n_items + 1, cold, "eventlab, full replay"),
            (n_items + 1, warm, "eventlab, from a head snapshot")]


def peer_points(folder: Path, n_items: int) -> list[tuple[int, float, str]]:
    long_id, items = workload.long_stream(20_000, n_items)
    path = folder / f"long-{n_items}.sqlite"
    app = peer_side._app(path)
    order = peer_side.Order(order_id=str(long_id), user_id=1, items=[])
    for start in range(0, n_items, 1_000):
        for item in items[start:start + 1_000]:
            order.add_item(item)
        app.save(order)
    cold = _timed(lambda: app.repository.get(long_id))
    app.close()
    app = peer_side._app(path, snapshots=True)
    app.take_snapshot(long_id)
    warm = _timed(lambda: app.repository.get(long_id))
    app.close()
    return [(n_items + 1, cold, "eventsourcing 9.5.6, full replay"),
            (n_items + 1, warm, "eventsourcing 9.5.6, from a head snapshot")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_curve",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("png", type=Path)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="eventlab-curve-") as folder:
        for n_items in LENGTHS:
            rows += eventlab_points(Path(folder), n_items) + peer_points(Path(folder), n_items)
            for events, seconds, label in rows[-4:]:
                print(f"{label}: {events:,} events {seconds * 1e3:.1f} ms", flush=True)
    frame = pd.DataFrame(rows, columns=["events", "seconds", "snapshots"])
    fig = viz.replay_cost(frame)
    fig.axes[0].set_title("Replay cost against stream length (one order, N events; open store)")
    fig.savefig(args.png, dpi=100, bbox_inches="tight")
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
