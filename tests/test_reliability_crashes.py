"""A process killed (SIGKILL) while projections catch up loses nothing and resumes to a clean run's state.

The child follows a growing log the way a notebook or a runner would: it imports the
next chunk of the shipped sample, then catches the read models up, order_summary
through its Python handlers and the other read models through their SQL, in small
batches (each batch commits with its checkpoint). It is killed at a random moment,
several times over the same file. After each kill the log holds whole chunks only,
every read model holds exactly what a clean run gives at its checkpoint, and a
catch-up resumes to exactly what a clean run gives at the head.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import eventlab
from eventlab.examples import read_models
from eventlab.projections import catch_up, lag

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "orders-sample.parquet"
FIRST, CHUNK = 400, 150  # events stored before the first child runs; events per import
PYTHON, SQL = [read_models.order_summary], list(read_models.ALL[1:])

CHILD = textwrap.dedent(f"""
    import sys
    import pandas as pd
    import eventlab
    from eventlab.examples import read_models
    from eventlab.projections import catch_up

    sample = pd.read_parquet(sys.argv[2])
    with eventlab.EventStore(sys.argv[1]) as store:
        print("ready", flush=True)
        while store.head_position < len(sample):
            head = store.head_position
            store.import_events(sample.iloc[head:head + {CHUNK}])
            print("imported", store.head_position, flush=True)
            catch_up(store, read_models.order_summary, method="python", batch_size=40)
            catch_up(store, read_models.ALL[1:], method="sql", batch_size=25)
            print("caught up", store.head_position, flush=True)
""")


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_parquet(SAMPLE)


def tables(store: eventlab.EventStore, projections) -> dict[str, list[tuple]]:
    """Every row of the projections' tables and views, in a stable order."""
    return {name: store.sql(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for projection in projections for name in projection.tables}


def clean_run(sample: pd.DataFrame, position: int, projections) -> dict[str, list[tuple]]:
    """The read models built from scratch, in a fresh store, over the log's first ``position`` events."""
    with eventlab.EventStore() as fresh:
        fresh.import_events(sample.iloc[:position])
        catch_up(fresh, projections, batch_size=None)
        return tables(fresh, projections)


@pytest.mark.slow
def test_sigkill_during_projection_catch_up_keeps_read_models_at_their_checkpoints(tmp_path, sample):
    seed = int(os.environ.get("EVENTLAB_CRASH_SEED", "2024"))
    rng = random.Random(seed)
    why = f"(seed {seed}; rerun with EVENTLAB_CRASH_SEED={seed})"
    path = tmp_path / "follow.duckdb"
    with eventlab.EventStore(path) as store:
        store.import_events(sample.iloc[:FIRST])
    seen_imports = 0
    for kill in range(3):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(SAMPLE)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready", why
        first = child.stdout.readline()  # however loaded the machine, kill after it imported a chunk
        delay = rng.uniform(0.1, 2.0)
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        printed = [first, *child.stdout.read().splitlines()]
        seen_imports += sum(line.startswith("imported") for line in printed)
        why = f"(seed {seed}, kill {kill} after {delay:.2f} s; rerun with EVENTLAB_CRASH_SEED={seed})"

        with eventlab.EventStore(path) as store:
            head = store.head_position
            # the log is the sample's first events, whole chunks of it: none of an interrupted import
            assert (head - FIRST) % CHUNK == 0, why
            stored = store.sql("SELECT event_id::VARCHAR FROM events ORDER BY position").fetchall()
            assert [row[0] for row in stored] == list(sample["event_id"].iloc[:head].astype(str)), why
            assert store.verify().ok, why
            # each read model is exactly what a clean run gives at its checkpoint
            state = lag(store, read_models.ALL)
            checkpoints = dict(zip(state["projection"], state["position"]))
            for projection in read_models.ALL:
                at = int(checkpoints[projection.name])
                assert 0 <= at <= head, why
                if at:
                    assert tables(store, [projection]) == clean_run(sample, at, [projection]), \
                        f"{projection.name} at its checkpoint {at} {why}"
            # and a catch-up resumes from there to exactly what a clean run gives at the head
            catch_up(store, PYTHON, method="python")
            catch_up(store, SQL, method="sql")
            assert tables(store, read_models.ALL) == clean_run(sample, head, read_models.ALL), why
    assert seen_imports, f"the child never got to import anything: nothing was tested {why}"
