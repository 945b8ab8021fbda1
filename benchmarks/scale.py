"""The scale study of docs/scale.md: one as-of question on logs of growing size, three engines.

    python -m benchmarks.scale STORE.duckdb [STORE.duckdb ...] --out docs/scale.json
    python -m benchmarks.scale --out docs/scale.json --plot docs/scale.png

For each store (made with ``eventlab demo --orders N``) it exports the day-partitioned
dataset once, then asks ``states_at(orders.decider, as_of=<the log's middle moment>)``
of DuckDB on the file, DuckDB over the dataset (``EventStore.open_dataset``) and Spark
in local mode (``eventlab.spark``), each in a fresh process, timing the query (the best
of ``--repeat``) and reading the process's peak resident memory (Spark: the Python driver
plus its JVM; the Python workers not counted).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ENGINES = ("duckdb-file", "duckdb-dataset", "spark-local")


def measure(engine: str, store_path: str, dataset: str, as_of: str, repeat: int) -> dict:
    """Run in a fresh process: the query's best time and the rows it returned."""
    from datetime import datetime

    import eventlab
    from eventlab.examples import orders

    moment = datetime.fromisoformat(as_of)
    times, rows = [], None
    if engine == "spark-local":
        spark = eventlab.spark.local_session(cores=2, memory="6g")
        events = eventlab.spark.read_events(spark, dataset)
        for _ in range(repeat):
            started = time.perf_counter()
            rows = eventlab.spark.states_at(events, orders.decider, as_of=moment).count()
            times.append(time.perf_counter() - started)
        jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        extra_mb = _peak_mb(f"/proc/{jvm}/status")
    else:
        extra_mb = 0
        store = (eventlab.EventStore(store_path, read_only=True) if engine == "duckdb-file"
                 else eventlab.EventStore.open_dataset(dataset))
        for _ in range(repeat):
            started = time.perf_counter()
            rows = len(eventlab.states_at(store, orders.decider, as_of=moment))
            times.append(time.perf_counter() - started)
    return {"seconds": min(times), "all_seconds": times, "rows": rows,
            "peak_mb": _peak_mb("/proc/self/status") + extra_mb}


def _peak_mb(status: str) -> int:
    """A process's peak resident memory (VmHWM), in MB."""
    line = next(line for line in Path(status).read_text().splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) // 1024


def plot(results: list[dict], png: str) -> None:
    """Time and peak memory against the log's size, one line per engine, both axes logarithmic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for engine in ENGINES:
        rows = sorted((r for r in results if r["engine"] == engine), key=lambda r: r["events"])
        if not rows:
            continue
        millions = [r["events"] / 1e6 for r in rows]
        time_ax.plot(millions, [r["seconds"] for r in rows], marker="o", label=engine)
        memory_ax.plot(millions, [r["peak_mb"] for r in rows], marker="o", label=engine)
    sizes = sorted({r["events"] / 1e6 for r in results})
    first = min((r for r in results if r["engine"] == ENGINES[0]), key=lambda r: r["events"])
    time_ax.plot(sizes, [first["seconds"] * m / sizes[0] for m in sizes], ":", color="grey",
                 label="in proportion to the log")
    axes = ((time_ax, "seconds (best of the runs, warm)", [1, 2, 5, 10, 20, 50]),
            (memory_ax, "peak resident MB", [250, 500, 1000, 2000]))
    for ax, label, ticks in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [f"{m:.0f} M" for m in sizes])
        ax.set_yticks(ticks, [f"{t:,}" for t in ticks])
        ax.set_xlabel("events in the log")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    time_ax.set_title("One as-of question: time")
    memory_ax.set_title("One as-of question: peak memory")
    time_ax.legend(title="engine")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stores", nargs="*")
    parser.add_argument("--out", default="docs/scale.json")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--plot", metavar="PNG", help="draw the results in --out into PNG and stop")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, repeat=args.repeat)))
        return
    if args.plot:
        plot(json.loads(Path(args.out).read_text()), args.plot)
        return
    import eventlab

    results = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else []
    for store_path in args.stores:
        dataset = f"{store_path}.dataset"
        with eventlab.EventStore(store_path, read_only=True) as store:
            events, first, last = store.rows(
                "SELECT count(*), min(recorded_at), max(recorded_at) FROM events")[0]
            started = time.perf_counter()
            store.export_parquet(dataset, partition_by="day")
            exported = time.perf_counter() - started
        as_of = (first + (last - first) / 2).isoformat()
        for engine in args.engines.split(","):
            out = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--repeat", str(args.repeat),
                                  "--child", engine, store_path, dataset, as_of],
                                 capture_output=True, text=True, check=True)
            row = {"events": events, "engine": engine, "as_of": as_of, "export_seconds": exported,
                   **json.loads(out.stdout.strip().splitlines()[-1])}
            print(json.dumps(row), flush=True)
            results = [r for r in results if (r["events"], r["engine"]) != (events, engine)] + [row]
            Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
