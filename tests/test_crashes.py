"""A process killed mid-write leaves every committed transaction whole and nothing of the rest."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import eventlab

WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    from datetime import datetime, timedelta, timezone
    import eventlab
    from eventlab import NewEvent

    path, mode, run = sys.argv[1], sys.argv[2], sys.argv[3]
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with eventlab.EventStore(path) as store:
        print("ready", flush=True)
        for batch in range(1_000):
            if mode == "uow":
                with store.unit_of_work():
                    for i in range(500):
                        event = NewEvent("Tick", {"batch": batch, "i": i})
                        store.append(f"r{run}b{batch}-s{i % 50}", [event])
            else:
                start = store.head_position
                frame = pd.DataFrame({
                    "stream_id": [f"r{run}b{batch}-s{i % 50}" for i in range(5_000)],
                    "type": ["Tick"] * 5_000,
                    "data": [f'{{"batch": {batch}, "i": {i}}}' for i in range(5_000)],
                    "recorded_at": [t0 + timedelta(seconds=start + i) for i in range(5_000)]})
                store.import_events(frame)
            print("committed", batch, flush=True)
""")


@pytest.mark.parametrize("mode, size", [("uow", 500), ("import", 5_000)])
def test_sigkill_during_writes_loses_only_the_interrupted_transaction(tmp_path, mode, size):
    rng = random.Random(mode)
    path = tmp_path / "crash.duckdb"
    for attempt in range(3):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode, str(attempt)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        first = child.stdout.readline()  # however loaded the machine, kill after a first commit
        delay = rng.uniform(0.3, 1.5)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        why = f"(killed {delay:.2f} s after a commit, attempt {attempt}, seeded random.Random({mode!r}))"
        child.wait()
        printed = [first, *child.stdout.read().splitlines()]
        committed = [line for line in printed if line.startswith("committed")]
        with eventlab.EventStore(path) as store:
            counts = dict(store.sql(
                "SELECT split_part(stream_id, '-', 1) AS batch, count(*) FROM events GROUP BY 1").fetchall())
            # every batch in the log is complete: a transaction is all or nothing
            assert set(counts.values()) <= {size}, (counts, why)
            # everything the child said it committed is there (it may have committed one more)
            this_run = [b for b in counts if b.startswith(f"r{attempt}b")]
            assert committed and len(committed) <= len(this_run) <= len(committed) + 1, why
            log = store.read_all_df()
            assert list(log["position"]) == list(range(1, len(log) + 1)), why
            assert store.verify().ok, why
