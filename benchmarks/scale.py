"""The scale study of docs/scale.md: one as-of question on logs of growing size, three engines.

    python -m benchmarks.scale STORE.duckdb [STORE.duckdb ...] --out docs/scale.json

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stores", nargs="*")
    parser.add_argument("--out", default="docs/scale.json")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, repeat=args.repeat)))
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
