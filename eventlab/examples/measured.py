"""The costs of event sourcing that the benchmark suite measured, as ``docs/benchmarks.md`` states them.

Notebook 17 cites these instead of timing anything itself (timings differ from
machine to machine, and a notebook's stored outputs must not). Each figure names
the run it comes from and the row of the results table that holds it; a test
checks that the row still says so, and fails when a new run changes the page.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = ("docs/benchmarks.md, full size (20,000 orders, ~90,000 events; a 100,000-event stream), "
          "the run of 2026-12-03 08:22 UTC at commit c9aa393")


@dataclass(frozen=True)
class Figure:
    """One eventlab figure from the results table: what it measures, its value, and the table row."""

    cost: str
    what: str
    value: float
    unit: str
    row: str  # the start of the table row's figure column, in docs/benchmarks.md


FIGURES = (
    Figure("write", "append one command (handle, one commit), p50", 1.75, "ms",
           "| append | latency p50 ms |"),
    Figure("write", "a bare one-row INSERT into the same file (the floor), p50", 1.31, "ms",
           "| append | floor: bare 1-row INSERT p50 ms"),
    Figure("replay", "current state of a 100,000-event stream, cold, median", 209, "ms",
           "| long_stream | seconds, cold, median"),
    Figure("replay", "the same from a snapshot, new store opened, median", 35.0, "ms",
           "| long_stream | ms, median, from the snapshot: new EventStore"),
    Figure("replay", "the same from a snapshot, store already open, median", 13.6, "ms",
           "| long_stream | ms, median, from the snapshot on an open store"),
    Figure("read model", "rebuild the order summary from ~90,000 events, SQL", 129, "ms",
           "| projection_rebuild | seconds: rebuild(order_summary) sql"),
    Figure("read model", "apply events with Python handlers, one statement each", 1209, "events/s",
           "| projection_rebuild | events/s: rebuild(order_summary) python handlers"),
    Figure("memory", "peak memory of the whole benchmark run", 569, "MB",
           "| (whole run) | peak RSS MB |"),
)
"""Values in the table's own unit are converted where the table gives seconds (0.209 s -> 209 ms)."""
