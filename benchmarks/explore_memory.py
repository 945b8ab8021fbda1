"""Peak RSS of one way of exploring a store, in a fresh process; prints JSON.

    python benchmarks/explore_memory.py STORE TASK     # TASK: states_sql, states_python, history,
                                                       # slider, or all (the four in one process)

For the store ``eventlab demo --orders 200000`` builds (1 M events): ``history`` is the
whole history of ``stock-espresso-beans``; ``slider`` builds a TimeSlider over orders (and
stock) and moves it to 100 random positions (seed 1). Peak RSS is the process's VmHWM.
"""

from __future__ import annotations

import json
import random
import sys
import time

import eventlab
from eventlab.examples import orders


def status(field: str) -> float:
    """A line of /proc/self/status in MB (VmRSS now, VmHWM the peak)."""
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) / 1024 for line in lines if line.startswith(field))


def explore(store: eventlab.EventStore, task: str) -> None:
    if task in ("states_sql", "all"):
        eventlab.states_at(store, orders.decider, method="sql")
    if task in ("states_python", "all"):
        eventlab.states_at(store, orders.decider, method="python")
    if task in ("history", "all"):
        eventlab.history(store, "stock-espresso-beans", orders.stock_decider)
    if task in ("slider", "all"):
        from eventlab.widgets import TimeSlider, time_scrubbing

        slider = TimeSlider(store, orders.decider, others=[orders.stock_decider])
        rng = random.Random(1)
        time_scrubbing(slider, [rng.randint(1, store.head_position) for _ in range(100)])


def main() -> None:
    path, task = sys.argv[1:3]
    store = eventlab.EventStore(path, read_only=True)
    opened = status("VmRSS")
    start = time.perf_counter()
    explore(store, task)
    print(json.dumps({"task": task, "s": round(time.perf_counter() - start, 2),
                      "rss after open MB": round(opened), "peak RSS MB": round(status("VmHWM"))}))


if __name__ == "__main__":
    main()
