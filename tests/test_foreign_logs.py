"""Foreign logs loaded with one command: process-mining CSVs written by pm4py, their XES names mapped.

pm4py (AGPL) only writes the fixtures here; eventlab never imports it. Its Monte Carlo
simulator plays a process model with cases arriving while others run, so its log,
listed case by case as pm4py lists it, goes back in time from one case to the next:
the shape a process-mining export has.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from datetime import timedelta

import pandas as pd
import pytest

import eventlab
from eventlab.cli import main

pm4py = pytest.importorskip("pm4py")


def run(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def process_log(tmp_path_factory) -> tuple[pd.DataFrame, object]:
    """A simulated process log, as pm4py writes it: grouped by case, not in time order, as a CSV file."""
    from pm4py.algo.simulation.montecarlo import algorithm as montecarlo

    logging.getLogger("pm4py").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        tree = pm4py.generate_process_tree()
        net, im, fm = pm4py.convert_to_petri_net(tree)
        played = pm4py.play_out(net, im, fm, parameters={"noTraces": 30})
        simulated, _ = montecarlo.apply(played, net, im, fm, parameters={
            "num_simulations": 25, "case_arrival_ratio": 4, "max_thread_exec_time": 10})
    for number, trace in enumerate(simulated):  # the simulator leaves its cases unnamed
        trace.attributes["concept:name"] = str(number)
    frame = pm4py.convert_to_dataframe(simulated)
    path = tmp_path_factory.mktemp("pm4py") / "process.csv"
    frame.to_csv(path, index=False)
    return frame, path


def test_the_fixture_is_what_the_test_needs(process_log):
    frame, _ = process_log
    assert {"case:concept:name", "concept:name", "time:timestamp"} <= set(frame.columns)
    assert not frame["time:timestamp"].is_monotonic_increasing  # cases overlap in time
    assert frame["case:concept:name"].nunique() > 10


def test_a_process_mining_csv_loads_with_sort_and_nothing_else(process_log, tmp_path):
    frame, path = process_log
    db = tmp_path / "process.duckdb"
    code, out, err = run("load", path, "--sort", "--db", db)
    assert code == 0, err
    assert f"Loaded {len(frame):,} events" in out
    with eventlab.EventStore(db, read_only=True) as store:
        log = store.read_all_df()
        assert len(log) == len(frame) and store.verify().ok
        assert log["recorded_at"].is_monotonic_increasing
        cases = frame["case:concept:name"].astype(str)
        assert sorted(store.streams("case-")) == sorted(f"case-{case}" for case in cases.unique())
        # each case's activities in the order pm4py recorded them (ties keep the file's order)
        for case in cases.unique()[:5]:
            mine = frame[cases == case].sort_values("time:timestamp", kind="stable")["concept:name"].tolist()
            assert [e.type for e in store.read(f"case-{case}")] == mine
        middle = log["recorded_at"].iloc[len(log) // 2]
        expected = eventlab.states_at(store, eventlab.latest_values("case"), as_of=middle)
    code, out, err = run("states", "--as-of", middle.isoformat(), "--db", db, "--limit", 1000)
    assert code == 0, err
    assert out.startswith(f"{len(expected):,} case streams as of")
    assert all(stream in out for stream in expected["stream_id"])


def test_an_unsorted_log_is_refused_whole_naming_the_row_and_the_fix(process_log, tmp_path):
    frame, path = process_log
    db = tmp_path / "refused.duckdb"
    code, _, err = run("load", path, "--db", db)
    back = int((frame["time:timestamp"].diff() < timedelta(0)).to_numpy().nonzero()[0][0])
    assert code == 1 and f"row {back + 1} " in err and "--sort" in err
    with eventlab.EventStore(db, read_only=True) as store:
        assert store.count() == 0


def test_columns_are_mapped_by_name_and_the_rest_becomes_data(process_log, tmp_path):
    frame, _ = process_log
    renamed = frame.rename(columns={"case:concept:name": "case", "concept:name": "activity",
                                    "time:timestamp": "when"}).assign(resource=lambda f: "clerk-" + f["case"])
    path = tmp_path / "renamed.csv"
    renamed.to_csv(path, index=False)
    db = tmp_path / "mapped.duckdb"
    code, _, err = run("load", path, "--stream", "case", "--type", "activity", "--time", "when",
                       "--prefix", "claim-", "--sort", "--db", db)
    assert code == 0, err
    with eventlab.EventStore(db, read_only=True) as store:
        first = store.read(f"claim-{renamed['case'].iloc[0]}")[0]
        assert first.data == {"resource": f"clerk-{renamed['case'].iloc[0]}"}
        assert store.count() == len(frame)
    missing = run("load", path, "--stream", "case", "--type", "nope", "--time", "when", "--db", db)
    assert missing[0] == 1 and "no column 'nope'" in missing[2]


def test_naive_times_need_a_time_zone(process_log, tmp_path):
    frame, _ = process_log
    local = frame.assign(**{"time:timestamp": frame["time:timestamp"].dt.tz_convert("Europe/Paris")
                            .dt.tz_localize(None)})  # a log written in local time, as many systems do
    path = tmp_path / "local.csv"
    local.to_csv(path, index=False)
    db = tmp_path / "local.duckdb"
    code, _, err = run("load", path, "--sort", "--db", db)
    assert code == 1 and "row 1: column 'time:timestamp'" in err and "--timezone" in err
    code, _, err = run("load", path, "--sort", "--timezone", "Europe/Paris", "--db", db)
    assert code == 0, err
    with eventlab.EventStore(db, read_only=True) as store:
        assert store.read_all_df()["recorded_at"].min() == frame["time:timestamp"].min()


def test_the_python_api_maps_the_same_way(process_log):
    frame, _ = process_log
    store = eventlab.EventStore()
    with pytest.raises(eventlab.InvalidEventError, match="sort=True"):
        store.import_events(frame)
    assert store.count() == 0
    report = store.import_events(frame, sort=True, stream_prefix="p-")
    assert report.imported == len(frame) and store.streams("p-")
    again = store.import_events(frame, sort=True, stream_prefix="p-")  # ids come from the rows' content
    assert (again.imported, again.skipped, store.count()) == (0, len(frame), len(frame))


def test_an_empty_time_and_unusual_line_breaks_in_the_data_are_handled(tmp_path):
    store = eventlab.EventStore()
    rows = pd.DataFrame({"case": ["1", "1"], "activity": ["Open", "Note"],
                         "ts": ["2024-05-06T09:00:00Z", None], "text": ["a\u2028b", "c\nd"]})
    with pytest.raises(eventlab.InvalidEventError, match="row 2: column 'ts' is empty"):
        store.import_events(rows, columns={"stream_id": "case", "type": "activity", "recorded_at": "ts"})
    rows["ts"] = ["2024-05-06T09:00:00Z", "2024-05-06T09:05:00Z"]
    store.import_events(rows, columns={"stream_id": "case", "type": "activity", "recorded_at": "ts"})
    assert [e.data["text"] for e in store.read("1")] == ["a\u2028b", "c\nd"]
