"""One round of benchmarks.ab: time the figures with whichever eventlab is on PYTHONPATH; prints JSON.

Only public names that both old and new code have are used (``TimeSlider`` took only the
store before eventlab knew other domains, so both calls are tried).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

import eventlab
from eventlab import snapshots, widgets
from eventlab.examples import orders
from eventlab.sample import demo_store


def median_seconds(work, times: int) -> float:
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def make_files(shop: Path, long: Path) -> None:
    """A 4,000-order demo store and one order of 100,001 events, the same for both sides."""
    demo_store(shop, n_orders=4000, seed=7).close()
    with eventlab.EventStore(long) as store:
        store.append("order-1", [orders.OrderPlaced("1", 1, [])])
        with store.unit_of_work():
            for first in range(0, 100_000, 1000):
                store.append("order-1", [orders.ItemAdded("1", f"i{n}") for n in range(first, first + 1000)])


def slider_over(store: eventlab.EventStore):
    try:
        return widgets.TimeSlider(store, orders.decider, others=[orders.stock_decider])
    except TypeError:  # before eventlab knew other domains
        return widgets.TimeSlider(store)


def main(workdir: Path) -> dict[str, float]:
    shop, long = workdir / "shop.duckdb", workdir / "long.duckdb"
    if not shop.exists():
        make_files(shop, long)
    figures = {}
    with eventlab.EventStore(shop, read_only=True) as store:
        streams = store.streams("order-")[:1500]
        start = time.perf_counter()
        for stream in streams:
            eventlab.state_at(store, stream, orders.decider, version=3)
        figures["state_at(version=3) loop, orders/s"] = len(streams) / (time.perf_counter() - start)
        figures["states_at sql, s"] = median_seconds(
            lambda: eventlab.states_at(store, orders.decider, method="sql"), 5)
        one = next(stream for stream in streams if store.stream_version(stream) >= 4)
        figures["read one stream, ms"] = 1000 * median_seconds(lambda: store.read(one), 200)
        slider = slider_over(store)
        positions = [row[0] for row in store.sql(
            "SELECT position FROM events WHERE starts_with(stream_id, 'order-')").fetchall()]
        picks = random.Random(1).choices(positions, k=203)
        moves = []
        for n, position in enumerate(picks):
            start = time.perf_counter()
            slider.slider.value = position
            if n >= 3:  # three warm-up moves, as in the suite
                moves.append(time.perf_counter() - start)
        moves.sort()
        figures["slider p50, ms"] = 1000 * moves[len(moves) // 2]
        figures["slider p95, ms"] = 1000 * moves[int(0.95 * len(moves))]

    def cold() -> None:
        with eventlab.EventStore(long, read_only=True) as store:
            eventlab.state_at(store, "order-1", orders.decider)

    figures["long stream cold, s"] = median_seconds(cold, 5)
    with eventlab.EventStore(long) as store:
        snapshots.delete_all(store)
        figures["snapshot take at the head (a full replay), s"] = median_seconds(
            lambda: (snapshots.delete_all(store), snapshots.take(store, "order-1", orders.decider)), 3)
        snapshots.delete_all(store)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
