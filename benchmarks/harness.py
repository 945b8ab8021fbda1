"""What both sides share: sizes, the phase registry, timing, memory, and the worker.

Each phase of each side runs in a fresh process of its own, so its peak memory is
its own and not what earlier phases left behind; what a side learns on the way
(``Context.notes``) is handed from one phase's process to the next. The runner
starts one phase at a time, so the two sides take turns and share the machine's
noise. A phase is one function
``phase(ctx) -> {"figures": {...}, "check": {...}}`` registered with ``@phases.add``. A phase
one side has no equivalent for is simply not registered there: that side answers with no
figures and no check (``"absent": True``).
"""

from __future__ import annotations

import importlib
import multiprocessing
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Size:
    """How big a run is, and which phases it runs (in this order)."""

    name: str
    n_orders: int
    long_items: int
    batch: int = 1_000          # commands per unit of work
    reads: int = 200            # repetitions of the read-one-stream phase
    repeats: int = 5            # repetitions of the long-stream replay
    snapshot_reads: int = 50    # repetitions of the long-stream state_at from a snapshot
    moves: int = 200            # slider moves to random positions
    handler_orders: int | None = 2_000  # orders whose events the projection's Python handlers rebuild
    #                                     (a copy of the log's first events; None: the whole store)
    append_orders: int | None = None  # None: append the whole workload to a new file;
    #                                   a number: append that many more orders on top of the big store
    loop_orders: int | None = None    # orders that per-order loops visit (None: all of them)
    demo_orders: int = 20_000         # orders of the `eventlab demo` store the widgets are also tried on
    stream_events: int = 100_000      # events of the one stream the stream_slider phase scrubs
    phases: tuple[str, ...] = ("append", "append-batched", "import", "replay_all", "time_travel",
                               "states_at", "projection_rebuild", "slider", "demo", "stream_slider",
                               "long_stream", "read_one_stream")


SIZES = {
    "smoke": Size("smoke", n_orders=300, long_items=2_000, reads=50, repeats=3, snapshot_reads=5, moves=30,
                  handler_orders=20, demo_orders=1_500, stream_events=3_000),
    "full": Size("full", n_orders=20_000, long_items=100_000),
    # ~1 M events: built in units of work, then the per-command append measured on top of it
    "scale": Size("scale", n_orders=220_000, long_items=100_000, append_orders=1_000, loop_orders=20_000,
                  demo_orders=200_000, stream_events=1_000_000,
                  phases=("append-batched", "import", "replay_all", "time_travel", "states_at",
                          "projection_rebuild", "slider", "demo", "stream_slider", "read_one_stream",
                          "append")),
}


@dataclass
class Context:
    """What a side keeps between phases: the size, its folder, and facts learned on the way."""

    size: Size
    workdir: Path
    notes: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.workdir / name


class Registry(dict):
    """Phase name -> function; ``@phases.add("name")`` registers one."""

    def add(self, name: str) -> Callable:
        def register(function: Callable) -> Callable:
            self[name] = function
            return function
        return register


# -- timing ------------------------------------------------------------------------------------

class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, by linear interpolation."""
    ordered = sorted(values)
    index = (len(ordered) - 1) * q / 100
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def median(values: list[float]) -> float:
    return statistics.median(values)


def progress(iterable, total: int, desc: str, unit: str = "cmd", show: bool | None = None):
    """A tqdm bar on stderr, by default when the loop has 2,000 steps or more."""
    if not (total >= 2_000 if show is None else show):
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, mininterval=2, leave=False)


# -- memory ------------------------------------------------------------------------------------

def rss_mb() -> float | None:
    """Resident memory of this process now (VmRSS), in MB; None where /proc is not there."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:")), None)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the worker --------------------------------------------------------------------------------

def apart(function: Callable, *args: Any) -> None:
    """Run ``function(*args)`` in a process of its own and wait for it: a phase's setup (building the
    store it then explores) whose memory is not the phase's. ``function`` must be importable by name."""
    process = multiprocessing.get_context("spawn").Process(target=function, args=args)
    process.start()
    process.join()
    if process.exitcode:
        raise RuntimeError(f"{function.__name__}{args} failed in its own process "
                           f"(exit code {process.exitcode})")


def run_phase(conn, side: str, size: Size, workdir: str, name: str, notes: dict[str, Any]) -> None:
    """A side's process for one phase: run it and answer with its figures, its peak RSS (the
    process's, imports included) and the notes it leaves for the next phase."""
    module = importlib.import_module(f"benchmarks.{side}_side")
    if name not in module.PHASES:  # the phase has no equivalent on this side: no figure, no answer
        conn.send({"figures": {}, "check": None, "absent": True, "notes": notes})
        return
    ctx = Context(size, Path(workdir), notes)
    start_rss = rss_mb()
    try:
        with Timer() as wall:
            result = module.PHASES[name](ctx)
        result.setdefault("check", {})
        result["wall_s"] = wall.seconds
        result["peak_rss_mb"] = peak_rss_mb()
        result["rss_at_start_mb"] = start_rss
    except Exception:
        result = {"error": traceback.format_exc()}
    conn.send({**result, "notes": ctx.notes})
